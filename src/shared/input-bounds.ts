/**
 * Length bounds of request fields that several routes share (OWASP API4: every input is bounded).
 * A value over its bound is refused with the route's usual validation error.
 */

/** A brand, category or name filter: as long as the product field it matches may be (API.md §3). */
export const MAX_FILTER_LENGTH = 500;

/**
 * An ISO 8601 instant such as `2026-05-14T10:30:00.123456+05:30` is about 35 characters; the
 * bound leaves room for long fractions of a second and refuses anything absurd.
 */
export const MAX_INSTANT_LENGTH = 64;

/** A list cursor is a short encoded position (an EAN, or a time and a UUID). */
export const MAX_CURSOR_LENGTH = 512;

import { badRequest, type AppError } from './errors.js';
import { mediaTypeParameter } from './media-type.js';

/** A multipart Content-Type without a boundary. */
export const noBoundary = () => badRequest("The multipart body has no boundary: send Content-Type 'multipart/form-data; boundary=…'.");

/** The longest boundary RFC 2046 (§5.1.1) allows a multipart body. */
const MAX_BOUNDARY_LENGTH = 70;

/**
 * The 400 of a multipart Content-Type whose boundary no multipart body can have: none, an empty
 * one, or one over RFC 2046's 70 characters (busboy throws on one over 252 from deep inside its
 * parser, which the route took for a failure of its own). Null for a usable boundary. Known from
 * the header alone, so the body is never read.
 */
export function boundaryProblem(contentType: string | undefined): AppError | null {
  const boundary = mediaTypeParameter(contentType, 'boundary');
  if (boundary === null) return noBoundary();
  if (boundary.length === 0 || boundary.length > MAX_BOUNDARY_LENGTH) {
    const what = boundary.length === 0 ? 'is empty' : `is ${boundary.length} characters long`;
    return badRequest(`The multipart boundary ${what}: it must be 1 to ${MAX_BOUNDARY_LENGTH} characters (RFC 2046).`);
  }
  return null;
}

/** The media type of a Content-Type header, lower case, without parameters. */
export const mediaTypeOf = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * A parameter of a Content-Type header (`charset`, `boundary`), its name matched in any case and
 * its value unquoted; null without one. A value is not expected to hold `;`, quoted or not.
 */
export function mediaTypeParameter(contentType: string | undefined, name: string): string | null {
  for (const parameter of (contentType ?? '').split(';').slice(1)) {
    const equals = parameter.indexOf('=');
    if (equals < 0 || parameter.slice(0, equals).trim().toLowerCase() !== name) continue;
    return parameter.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return null;
}

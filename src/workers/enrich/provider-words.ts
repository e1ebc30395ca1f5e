import { longerThan } from '../../shared/product/attribute-rules.js';
import { storableText } from '../../shared/product/storable-text.js';

/** The most characters of the provider's words quoted (an ellipsis marks the cut). */
export const MAX_PROVIDER_WORDS = 200;

/** The first `max` characters (code points) of `text`, a pair of surrogates being one. */
function firstCharacters(text: string, max: number): string {
  let end = 0;
  for (let characters = 0; characters < max; characters += 1) end += text.codePointAt(end)! > 0xffff ? 2 : 1;
  return text.slice(0, end);
}

/**
 * The provider's words (its `error`, its quota's `tier`, why a call failed) as they are quoted in
 * the job's detail, its error report and the log:
 * - the key it was sent (ENRICH_PROVIDER_KEY) is `[redacted]`: a provider may quote the key it refuses;
 * - a NUL character or half a UTF-16 surrogate pair is U+FFFD: PostgreSQL cannot store them, and
 *   the job's end would fail on them, to be run again with every lookup paid anew;
 * - at most {@link MAX_PROVIDER_WORDS} characters: an error of a megabyte would otherwise be held
 *   for every product of a page, and shown by every read of the job.
 */
export function providerWords(words: string, apiKey: string | undefined): string {
  // The key is replaced before the cut, which could leave a part of it.
  const unkeyed = (apiKey ? words.replaceAll(apiKey, '[redacted]') : words).trim();
  const quoted = longerThan(unkeyed, MAX_PROVIDER_WORDS) ? `${firstCharacters(unkeyed, MAX_PROVIDER_WORDS)}…` : unkeyed;
  return storableText(quoted).toWellFormed();
}

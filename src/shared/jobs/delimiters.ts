import { z } from 'zod';

/** The delimiters a CSV file may have (API.md §4): what an import reads and an export writes. */
export const DELIMITERS = [',', ';', '\t'] as const;
export type Delimiter = (typeof DELIMITERS)[number];

/** The ways a delimiter can be named, in a query, a profile or an export, and the character each means. */
export const DELIMITER_NAMES: Record<string, Delimiter> = {
  ',': ',', comma: ',', ';': ';', semicolon: ';', '\t': '\t', tab: '\t',
};

const DELIMITER_MESSAGE = 'delimiter must be one of ",", ";", "tab".';

/** A delimiter as a JSON body names it (a profile's, an export's), read as its character. */
export const delimiterSchema = z
  .string({ error: DELIMITER_MESSAGE })
  // Bounded for the OpenAPI document (the refinement is invisible to it): "semicolon" is the longest.
  .max(16, { error: DELIMITER_MESSAGE })
  .refine((value) => Object.hasOwn(DELIMITER_NAMES, value), { error: DELIMITER_MESSAGE })
  .transform((value) => DELIMITER_NAMES[value]!)
  // The refinement is invisible to JSON Schema: the document lists the accepted spellings.
  .meta({ enum: Object.keys(DELIMITER_NAMES) });

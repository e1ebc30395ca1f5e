/**
 * The GS1 prefix table: which GS1 Member Organisation (country) or special use each 3-digit GS1
 * prefix belongs to.
 *
 * Source: GS1, "GS1 Company Prefix" — the list of prefixes allocated to GS1 Member Organisations
 * and reserved by the GS1 General Specifications (§1.4.2, "GS1 Prefixes"),
 * https://www.gs1.org/standards/id-keys/company-prefix, as published in 2024. A prefix says which
 * GS1 organisation allocated the number, not where the product was made.
 *
 * Ranges are inclusive; prefixes not listed are unallocated (reserved by GS1 for future use).
 */
export const GS1_PREFIX_RANGES: ReadonlyArray<readonly [from: number, to: number, country: string]> = [
  [0, 19, 'United States'],
  [20, 29, 'Restricted distribution'],
  [30, 39, 'United States'],
  [40, 49, 'Restricted distribution'],
  [50, 59, 'Coupons'],
  [60, 139, 'United States'],
  [200, 299, 'Restricted distribution'],
  [300, 379, 'France'],
  [380, 380, 'Bulgaria'],
  [383, 383, 'Slovenia'],
  [385, 385, 'Croatia'],
  [387, 387, 'Bosnia and Herzegovina'],
  [389, 389, 'Montenegro'],
  [390, 390, 'Kosovo'],
  [400, 440, 'Germany'],
  [450, 459, 'Japan'],
  [460, 469, 'Russia'],
  [470, 470, 'Kyrgyzstan'],
  [471, 471, 'Taiwan'],
  [474, 474, 'Estonia'],
  [475, 475, 'Latvia'],
  [476, 476, 'Azerbaijan'],
  [477, 477, 'Lithuania'],
  [478, 478, 'Uzbekistan'],
  [479, 479, 'Sri Lanka'],
  [480, 480, 'Philippines'],
  [481, 481, 'Belarus'],
  [482, 482, 'Ukraine'],
  [483, 483, 'Turkmenistan'],
  [484, 484, 'Moldova'],
  [485, 485, 'Armenia'],
  [486, 486, 'Georgia'],
  [487, 487, 'Kazakhstan'],
  [488, 488, 'Tajikistan'],
  [489, 489, 'Hong Kong'],
  [490, 499, 'Japan'],
  [500, 509, 'United Kingdom'],
  [520, 521, 'Greece'],
  [528, 528, 'Lebanon'],
  [529, 529, 'Cyprus'],
  [530, 530, 'Albania'],
  [531, 531, 'North Macedonia'],
  [535, 535, 'Malta'],
  [539, 539, 'Ireland'],
  [540, 549, 'Belgium and Luxembourg'],
  [560, 560, 'Portugal'],
  [569, 569, 'Iceland'],
  [570, 579, 'Denmark'],
  [590, 590, 'Poland'],
  [594, 594, 'Romania'],
  [599, 599, 'Hungary'],
  [600, 601, 'South Africa'],
  [603, 603, 'Ghana'],
  [604, 604, 'Senegal'],
  [605, 605, 'Uganda'],
  [606, 606, 'Angola'],
  [607, 607, 'Oman'],
  [608, 608, 'Bahrain'],
  [609, 609, 'Mauritius'],
  [611, 611, 'Morocco'],
  [613, 613, 'Algeria'],
  [615, 615, 'Nigeria'],
  [616, 616, 'Kenya'],
  [617, 617, 'Cameroon'],
  [618, 618, "Côte d'Ivoire"],
  [619, 619, 'Tunisia'],
  [620, 620, 'Tanzania'],
  [621, 621, 'Syria'],
  [622, 622, 'Egypt'],
  [623, 623, 'Brunei'],
  [624, 624, 'Libya'],
  [625, 625, 'Jordan'],
  [626, 626, 'Iran'],
  [627, 627, 'Kuwait'],
  [628, 628, 'Saudi Arabia'],
  [629, 629, 'United Arab Emirates'],
  [630, 630, 'Qatar'],
  [631, 631, 'Namibia'],
  [632, 632, 'Rwanda'],
  [640, 649, 'Finland'],
  [680, 681, 'China'],
  [690, 699, 'China'],
  [700, 709, 'Norway'],
  [729, 729, 'Israel'],
  [730, 739, 'Sweden'],
  [740, 740, 'Guatemala'],
  [741, 741, 'El Salvador'],
  [742, 742, 'Honduras'],
  [743, 743, 'Nicaragua'],
  [744, 744, 'Costa Rica'],
  [745, 745, 'Panama'],
  [746, 746, 'Dominican Republic'],
  [750, 750, 'Mexico'],
  [754, 755, 'Canada'],
  [759, 759, 'Venezuela'],
  [760, 769, 'Switzerland and Liechtenstein'],
  [770, 771, 'Colombia'],
  [773, 773, 'Uruguay'],
  [775, 775, 'Peru'],
  [777, 777, 'Bolivia'],
  [778, 779, 'Argentina'],
  [780, 780, 'Chile'],
  [784, 784, 'Paraguay'],
  [786, 786, 'Ecuador'],
  [789, 790, 'Brazil'],
  [800, 839, 'Italy, San Marino and Vatican City'],
  [840, 849, 'Spain and Andorra'],
  [850, 850, 'Cuba'],
  [858, 858, 'Slovakia'],
  [859, 859, 'Czechia'],
  [860, 860, 'Serbia'],
  [865, 865, 'Mongolia'],
  [867, 867, 'North Korea'],
  [868, 869, 'Türkiye'],
  [870, 879, 'Netherlands'],
  [880, 881, 'South Korea'],
  [883, 883, 'Myanmar'],
  [884, 884, 'Cambodia'],
  [885, 885, 'Thailand'],
  [888, 888, 'Singapore'],
  [890, 890, 'India'],
  [893, 893, 'Vietnam'],
  [894, 894, 'Bangladesh'],
  [896, 896, 'Pakistan'],
  [899, 899, 'Indonesia'],
  [900, 919, 'Austria'],
  [930, 939, 'Australia'],
  [940, 949, 'New Zealand'],
  [950, 951, 'GS1 Global Office'],
  [955, 955, 'Malaysia'],
  [958, 958, 'Macao'],
  [960, 969, 'GS1 Global Office (GTIN-8)'],
  [977, 977, 'Serial publications (ISSN)'],
  [978, 979, 'Bookland (ISBN)'],
  [980, 980, 'Refund receipts'],
  [981, 984, 'Coupons'],
  [990, 999, 'Coupons'],
];

/** Lookup array: index = 3-digit prefix, value = the country or use of that prefix (or undefined). */
const BY_PREFIX: Array<string | undefined> = (() => {
  const table = new Array<string | undefined>(1000);
  for (const [from, to, country] of GS1_PREFIX_RANGES) {
    for (let prefix = from; prefix <= to; prefix += 1) table[prefix] = country;
  }
  return table;
})();

/**
 * The 3-digit GS1 prefix of a GTIN of 8, 12, 13 or 14 digits. A GTIN-12 or -13 is read as its
 * GTIN-14 form (left-padded with zeros) without the indicator digit, so a UPC-A `0xx…` is prefix
 * `00x`; a GTIN-8 has its own prefix space, read from its first three digits.
 */
export function gs1PrefixOf(gtin: string): string {
  if (gtin.length === 8) return gtin.slice(0, 3);
  return gtin.padStart(14, '0').slice(1, 4);
}

/**
 * The country (GS1 Member Organisation) or special use of `gtin`'s GS1 prefix, or null when the
 * prefix is unallocated. GTIN-8 numbers starting with 0 or 2 are for restricted distribution.
 */
export function gs1PrefixCountry(gtin: string): string | null {
  if (gtin.length === 8 && (gtin[0] === '0' || gtin[0] === '2')) return 'Restricted distribution';
  return BY_PREFIX[Number(gs1PrefixOf(gtin))] ?? null;
}

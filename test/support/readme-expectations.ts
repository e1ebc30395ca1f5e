/**
 * The answers a README prints after `# →`, checked against what a command really printed.
 *
 * An expectation is an optional HTTP status (`201`), optional headers (`Location: /v1/jobs/<id>`),
 * then either JSON or lines of text. In both, `…` stands for anything and `<id>` for a UUID (any
 * other `<name>` for a word). In JSON, `…` alone stands for further members or array items (an
 * object without it must have exactly the keys shown) or, as a value, for any value. A text line
 * that holds JSON after an optional `name: ` (an SSE `data:` line) is compared as JSON; the lines
 * must appear in order, others may come between them.
 */

const ANY = '\u0000any';
const MORE = '\u0000more';
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** A regular expression for a whole text with `…` and `<name>` placeholders. */
function patternOf(text: string): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = escaped.replaceAll('…', '[\\s\\S]*?').replaceAll('<id>', UUID).replace(/<\w+>/g, '\\S+?');
  return new RegExp(`^${pattern}$`);
}

/** Parses JSON in which a bare `…` is a placeholder (see the module comment). */
export function parseLooseJson(text: string): unknown {
  let out = '';
  let inString = false;
  const open: string[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    if (inString) {
      out += char;
      if (char === '\\') out += text[(i += 1)] ?? '';
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '…') {
      const before = out.trimEnd().at(-1);
      if (before === ':') out += JSON.stringify(ANY);
      else out += open.at(-1) === '{' ? `${JSON.stringify(MORE)}:0` : JSON.stringify(MORE);
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{' || char === '[') open.push(char);
    else if (char === '}' || char === ']') open.pop();
    out += char;
  }
  return JSON.parse(out);
}

/** Whether `actual` has what the loosely parsed `expected` shows. */
export function matchesLoosely(expected: unknown, actual: unknown): boolean {
  if (expected === ANY) return true;
  if (typeof expected === 'string') {
    if (typeof actual !== 'string') return false;
    return /…|<\w+>/.test(expected) ? patternOf(expected).test(actual) : expected === actual;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return false;
    const more = expected.at(-1) === MORE;
    const items = more ? expected.slice(0, -1) : expected;
    if (more ? actual.length < items.length : actual.length !== items.length) return false;
    return items.every((item, index) => matchesLoosely(item, actual[index]));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const shown = Object.entries(expected).filter(([key]) => key !== MORE);
    const open = MORE in expected;
    if (!open && Object.keys(actual).length !== shown.length) return false;
    return shown.every(([key, value]) => key in actual && matchesLoosely(value, (actual as Record<string, unknown>)[key]));
  }
  return expected === actual;
}

/** Whether one line of output is the expected line. */
function lineMatches(expected: string, actual: string): boolean {
  const json = /^((?:[\w-]+: )?)([{[].*)$/.exec(expected);
  if (!json) return patternOf(expected).test(actual);
  if (!actual.startsWith(json[1]!)) return false;
  try {
    return matchesLoosely(parseLooseJson(json[2]!), JSON.parse(actual.slice(json[1]!.length)));
  } catch {
    return false;
  }
}

/** What one command printed: stdout, and the HTTP statuses of the requests it made, in order. */
export interface CommandOutput {
  stdout: string;
  statuses: number[];
}

/** The status, headers and body of an output; `curl -i` prints the first two before the body. */
function splitResponse(output: CommandOutput): { status: number | undefined; headers: string[]; body: string } {
  const response = /^HTTP\/[\d.]+ (\d{3})[^\n]*\n([\s\S]*?)\r?\n\r?\n([\s\S]*)$/.exec(output.stdout);
  if (!response) return { status: output.statuses.at(-1), headers: [], body: output.stdout };
  return { status: Number(response[1]), headers: response[2]!.split(/\r?\n/), body: response[3]! };
}

/** The problems of an output against an expectation; none when it has everything shown. */
export function expectationProblems(expectation: string, output: CommandOutput): string[] {
  const problems: string[] = [];
  const { status, headers, body } = splitResponse(output);
  let rest = expectation.trim();
  const shownStatus = /^(\d{3})(?=[\s,]|$)[\s,]*/.exec(rest);
  if (shownStatus) {
    rest = rest.slice(shownStatus[0].length);
    if (status !== Number(shownStatus[1])) problems.push(`status ${status ?? 'unknown'}, not ${shownStatus[1]}`);
    for (let header = /^([A-Z][\w-]*): ([^\s,]+)[\s,]*/.exec(rest); header; header = /^([A-Z][\w-]*): ([^\s,]+)[\s,]*/.exec(rest)) {
      rest = rest.slice(header[0].length);
      const wanted = `${header[1]!.toLowerCase()}: ${header[2]!}`;
      if (!headers.some((line) => patternOf(wanted).test(line.replace(/^[^:]+/, (name) => name.toLowerCase())))) {
        problems.push(`no header ${header[1]}: ${header[2]} among ${JSON.stringify(headers)}`);
      }
    }
  }
  if (rest === '') return problems;
  if (rest.startsWith('{') || rest.startsWith('[')) {
    let actual: unknown;
    try {
      actual = JSON.parse(body);
    } catch {
      return [...problems, `not JSON: ${body}`];
    }
    if (!matchesLoosely(parseLooseJson(rest), actual)) problems.push(`JSON ${body.trim()} is not ${rest}`);
    return problems;
  }
  const lines = body.replace(/^\uFEFF/, '').split('\n').map((line) => line.replace(/\r$/, ''));
  let at = 0;
  for (const wanted of rest.split('\n')) {
    while (at < lines.length && !lineMatches(wanted, lines[at]!)) at += 1;
    if (at === lines.length) return [...problems, `no line ${wanted} (in order) in:\n${body}`];
    at += 1;
  }
  return problems;
}

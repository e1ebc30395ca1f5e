import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressOutput } from '../../src/cli/progress.js';

/** A stand-in terminal: a stream that says it is a TTY and keeps what is drawn on it. */
function fakeTerminal(): { stream: NodeJS.WriteStream; drawn(): string } {
  const stream = new PassThrough();
  let drawn = '';
  stream.on('data', (chunk: Buffer) => (drawn += chunk.toString()));
  const done = (callback?: () => void) => {
    callback?.();
    return true;
  };
  Object.assign(stream, {
    isTTY: true,
    columns: 120,
    cursorTo: (_x: number, callback?: () => void) => done(callback),
    clearLine: (_direction: number, callback?: () => void) => done(callback),
    moveCursor: () => true,
  });
  return { stream: stream as unknown as NodeJS.WriteStream, drawn: () => drawn };
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 150));

describe('the progress bar on a terminal', () => {
  it('shows ETA ? while the job has not counted its rows, and a time once it has', async () => {
    const terminal = fakeTerminal();
    const bar = createProgressOutput(terminal.stream).bar('import', 'rows');
    bar.update(0, null, 'queued');
    await pause();
    bar.update(500, null, 'running');
    await pause();
    const whileUncounted = terminal.drawn();
    bar.update(600, 1000, 'running');
    await pause();
    bar.stop();

    expect(whileUncounted).toMatch(/500\/\? rows \| \d+ rows\/s \| ETA \? running/);
    expect(whileUncounted).not.toContain('LL');
    expect(terminal.drawn()).toMatch(/600\/1000 rows \| \d+ rows\/s \| ETA \d+s running/);
  });
});

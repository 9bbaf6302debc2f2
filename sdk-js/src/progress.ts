/**
 * What `evaluate` prints, as the Python SDK's `lamina/sdk/progress.py`: a
 * progress bar while it runs (redrawn in place on a terminal, a line at each
 * tenth otherwise, as in CI logs) and a summary table at the end.
 */

const WIDTH = 30;

/** Where the progress goes: `process.stderr`, or anything with `write` (and `isTTY`). */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  done = 0;
  private shown = -1;
  private readonly tty: boolean;

  constructor(
    readonly total: number,
    private readonly out: Output,
  ) {
    this.tty = out.isTTY === true;
  }

  advance(): void {
    this.done += 1;
    const total = Math.max(this.total, 1);
    if (this.tty) {
      const filled = Math.floor((WIDTH * this.done) / total);
      this.out.write(`\r[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${this.done}/${this.total}`);
      return;
    }
    const tenth = Math.floor((10 * this.done) / total);
    if (tenth === this.shown) return;
    this.shown = tenth;
    this.out.write(`${this.done}/${this.total} items done\n`);
  }

  close(): void {
    if (this.tty) this.out.write("\n");
  }
}

/** The run's table: each score's average, then the items, the errors and the link. */
export function summary(
  name: string,
  averages: Record<string, number>,
  items: number,
  errors: number,
  url: string,
): string {
  const rows: [string, string][] = Object.entries(averages).map(([score, value]) => [score, value.toFixed(3)]);
  rows.push(["items", String(items)], ["errors", String(errors)]);
  const width = Math.max("score".length, ...rows.map(([left]) => left.length));
  const lines = [`Experiment ${JSON.stringify(name)}`, `${"score".padEnd(width)}  average`, "-".repeat(width + 9)];
  lines.push(...rows.map(([left, right]) => `${left.padEnd(width)}  ${right}`));
  lines.push(`See it at ${url}`);
  return lines.join("\n");
}

/**
 * Scores and session ends, delivered to the server in the background: the
 * same design as the Python SDK's (`lamina/sdk/scores.py`).
 *
 * `Laminar.score` and `Laminar.endSession` are usually called from a request
 * handler long after the trace, so they never wait or throw, and a score once
 * given arrives exactly once:
 *
 * - the caller only appends to a bounded queue (`MAX_PENDING`); when it is
 *   full the new item is dropped, counted and logged once;
 * - one loop sends what is queued, in order: runs of scores as one
 *   `POST /api/v1/scores` of at most `MAX_BATCH` (and about `MAX_BATCH_BYTES`),
 *   a session end as its own `POST /api/v1/sessions/{id}/end`;
 * - a failure that may pass (connection refused or reset, a timeout, 408, 429,
 *   any 5xx) keeps the items at the head of the queue and retries them with
 *   backoff (`BACKOFFS_MILLIS`, or the server's `Retry-After`) while the
 *   process runs; each score carries the `score_id` made when it was given,
 *   so a retry of a request the server did store is not a second score;
 * - a 4xx answer is final: a batch of several is split in halves to find the
 *   scores the server refuses, each dropped with a warning (one per reason);
 * - nothing it waits on keeps the process alive: `flush`, `shutdown` and the
 *   exit hook decide how long to wait.
 */

import * as http from "node:http";
import * as https from "node:https";

import { type Warn, within } from "./processor.js";
import { VERSION } from "./version.js";

export const MAX_PENDING = 10_000;
export const MAX_BATCH = 1_000;
export const MAX_BATCH_BYTES = 1 << 20;
export const BACKOFFS_MILLIS = [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000];
const LINGER_MILLIS = 50;
const MAX_REASONS_LOGGED = 20;

/** What one request came to: `status` 0 when no HTTP answer arrived. */
export interface Answer {
  status: number;
  message: string;
  retryAfterMillis?: number | undefined;
}

/** `post(path, body)`; never rejects. */
export type Post = (path: string, body: string) => Promise<Answer>;

const delivered = (answer: Answer) => answer.status >= 200 && answer.status < 300;
const retryable = (answer: Answer) =>
  answer.status === 0 || answer.status === 408 || answer.status === 429 || answer.status >= 500;

function retryAfter(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function errorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string };
    const error = parsed.error;
    if (typeof error === "string") return error.slice(0, 300);
    if (error && typeof error.message === "string") return error.message.slice(0, 300);
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 300);
}

/** A {@link Post} sending JSON to `baseUrl` with the project's key, and a way to stop it. */
export function httpPost(baseUrl: string, apiKey: string, timeoutMillis: number): { post: Post; close: () => void } {
  const secure = baseUrl.startsWith("https:");
  const agent = new (secure ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 2 });
  const requests = new Set<http.ClientRequest>();
  const post: Post = (path, body) =>
    new Promise<Answer>((resolve) => {
      let request: http.ClientRequest;
      try {
        request = (secure ? https : http).request(new URL(baseUrl + path), {
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json",
            "content-length": String(Buffer.byteLength(body)),
            "user-agent": `lamina-js/${VERSION}`,
          },
        });
      } catch (error) {
        resolve({ status: 0, message: String(error) });
        return;
      }
      requests.add(request);
      const timer = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMillis} ms`)), timeoutMillis);
      timer.unref();
      const settle = (answer: Answer) => {
        clearTimeout(timer);
        requests.delete(request);
        resolve(answer);
      };
      request.on("socket", (socket) => socket.unref());
      request.on("error", (error: NodeJS.ErrnoException) =>
        settle({ status: 0, message: `${error.code ?? error.name}: ${error.message}` }),
      );
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error) => settle({ status: 0, message: error.message }));
        response.on("end", () =>
          settle({
            status: response.statusCode ?? 0,
            message: errorText(Buffer.concat(chunks).toString("utf8").slice(0, 2000)),
            retryAfterMillis: retryAfter(response.headers["retry-after"]),
          }),
        );
      });
      request.end(body);
    });
  const close = () => {
    for (const request of requests) request.destroy(new Error("the Lamina SDK was shut down"));
    agent.destroy();
  };
  return { post, close };
}

interface Pending {
  seq: number;
  score?: string; // the score's JSON
  endPath?: string;
}

interface Waiter {
  target: number;
  resolvedAtCall: number;
  resolve: (ok: boolean) => void;
}

export function endPath(sessionId: string): string {
  return `/api/v1/sessions/${encodeURIComponent(sessionId)}/end`;
}

export class ScoreSender {
  delivered = 0;
  droppedQueueFull = 0;
  droppedRefused = 0;
  failuresInARow = 0;
  /** Something was queued since the last flush (the exit hook flushes only then). */
  dirty = false;
  /** Called when a request fails (the exit hook stops waiting long for a server that is not there). */
  onAttemptFailed: (() => void) | undefined;
  private queue: Pending[] = [];
  private seq = 0;
  private resolved = 0;
  private lastDropped = 0;
  private waiters: Waiter[] = [];
  private running = false;
  private stopped = false;
  private wakeSleep: (() => void) | undefined;
  private readonly reasons = new Set<string>();

  constructor(
    private readonly post: Post,
    private readonly where: string,
    private readonly warn: Warn,
    private readonly close: () => void = () => {},
  ) {}

  addScore(score: Record<string, unknown>): void {
    this.add({ score: JSON.stringify(score) });
  }

  addSessionEnd(sessionId: string): void {
    this.add({ endPath: endPath(sessionId) });
  }

  private add(item: Omit<Pending, "seq">): void {
    if (this.stopped) return;
    if (this.queue.length >= MAX_PENDING) {
      this.droppedQueueFull += 1;
      if (this.droppedQueueFull === 1) {
        this.warn(
          `Lamina: ${MAX_PENDING} scores are waiting to be sent to ${this.where} (it is unreachable ` +
            "or refusing them), so new scores are dropped. This is logged once; the count is logged at shutdown.",
        );
      }
      return;
    }
    this.seq += 1;
    this.dirty = true;
    this.queue.push({ seq: this.seq, ...item });
    this.start(LINGER_MILLIS);
  }

  /** Whether something is queued and not yet delivered. */
  get pending(): boolean {
    return this.resolved < this.seq;
  }

  get failing(): boolean {
    return this.failuresInARow > 0;
  }

  /**
   * Wait until everything queued before this call is delivered or dropped, at
   * most `timeoutMillis`; true when all of it was delivered. Its timer keeps
   * the process alive while it waits unless `keepAlive` is false.
   */
  flush(timeoutMillis: number, keepAlive = true): Promise<boolean> {
    this.dirty = false;
    if (this.stopped || !this.pending) return Promise.resolve(!this.pending);
    const done = new Promise<boolean>((resolve) => {
      this.waiters.push({ target: this.seq, resolvedAtCall: this.resolved, resolve });
    });
    this.wakeSleep?.(); // retry now rather than after the backoff
    this.start(0);
    return within(done, timeoutMillis, false, keepAlive);
  }

  /** Send what is queued within `timeoutMillis`, then stop for good. */
  async stop(timeoutMillis: number): Promise<void> {
    if (this.stopped) return;
    await this.flush(timeoutMillis);
    this.stopped = true;
    const unsent = this.queue.length;
    this.queue = [];
    this.wakeSleep?.();
    this.close();
    this.reportLost(unsent, "still waiting at shutdown");
  }

  /** The once-only summary of what was lost, when the process exits without `shutdown`. */
  reportAtExit(): void {
    this.reportLost(this.queue.length, "still waiting when the process exited");
  }

  private reportLost(unsent: number, why: string): void {
    const lost = unsent + this.droppedQueueFull + this.droppedRefused;
    if (lost > 0) {
      this.warn(
        `Lamina: ${lost} scores or session ends were not delivered to ${this.where} (${unsent} ${why}, ` +
          `${this.droppedQueueFull} because the queue was full, ${this.droppedRefused} refused by the ` +
          `server); ${this.delivered} were delivered.`,
      );
    }
  }

  // -- the sending loop --------------------------------------------------------

  private start(lingerMillis: number): void {
    if (this.running) return;
    this.running = true;
    void this.sleep(lingerMillis)
      .then(() => this.pump())
      .catch(async (error: unknown) => {
        // a bug of ours: keep the scores, and try again in a second
        this.warn(`Lamina: sending scores failed (${String(error)}); retrying in a second`);
        await this.sleep(1_000);
      })
      .finally(() => {
        this.running = false;
        if (this.queue.length > 0 && !this.stopped) this.start(0);
      });
  }

  private async pump(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const answer = await this.send(this.head());
      if (answer === undefined) {
        if (this.failuresInARow > 0) this.warn(`Lamina: sending scores to ${this.where} works again.`);
        this.failuresInARow = 0;
        continue;
      }
      this.failuresInARow += 1;
      this.onAttemptFailed?.();
      if (this.failuresInARow === 1) {
        this.warn(
          `Lamina: could not send scores to ${this.where} (${answer.message || `HTTP ${answer.status}`}); ` +
            "they are kept and retried. The application is not affected.",
        );
      }
      let wait = BACKOFFS_MILLIS[Math.min(this.failuresInARow, BACKOFFS_MILLIS.length) - 1] ?? 15_000;
      if (answer.retryAfterMillis !== undefined) wait = Math.min(Math.max(wait, answer.retryAfterMillis), 60_000);
      await this.sleep(wait);
    }
  }

  /** A wait that keeps nothing alive and that a flush or stop cuts short. */
  private sleep(millis: number): Promise<void> {
    if (millis <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeSleep = undefined;
        resolve();
      };
      const timer = setTimeout(wake, millis);
      timer.unref();
      this.wakeSleep = wake;
    });
  }

  /** The next request's items: a session end, or a run of scores. */
  private head(): Pending[] {
    const first = this.queue[0];
    if (first === undefined || first.score === undefined) return first === undefined ? [] : [first];
    const items: Pending[] = [];
    let size = 0;
    for (const item of this.queue) {
      if (item.score === undefined || items.length === MAX_BATCH) break;
      size += item.score.length + 1;
      if (items.length > 0 && size > MAX_BATCH_BYTES) break;
      items.push(item);
    }
    return items;
  }

  /** Send `items` (the head of the queue); undefined once they are resolved, else the answer that says to retry. */
  private async send(items: Pending[]): Promise<Answer | undefined> {
    const first = items[0];
    if (first === undefined) return undefined;
    const answer =
      first.score === undefined
        ? await this.post(first.endPath ?? "", "{}")
        : await this.post("/api/v1/scores", `{"scores":[${items.map((i) => i.score).join(",")}]}`);
    if (this.stopped) return undefined;
    if (retryable(answer)) return answer;
    if (delivered(answer)) {
      this.resolve(items, true);
      return undefined;
    }
    if (items.length > 1) {
      const half = Math.floor(items.length / 2);
      for (const part of [items.slice(0, half), items.slice(half)]) {
        const retry = await this.send(part);
        if (retry !== undefined) return retry;
      }
      return undefined;
    }
    this.refused(answer);
    this.resolve(items, false);
    return undefined;
  }

  private refused(answer: Answer): void {
    this.droppedRefused += 1;
    const reason = `HTTP ${answer.status}: ${answer.message}`;
    if (this.reasons.has(reason) || this.reasons.size >= MAX_REASONS_LOGGED) return;
    this.reasons.add(reason);
    const hint = answer.status === 401 || answer.status === 403 ? " (check the project API key)" : "";
    this.warn(
      `Lamina: the server at ${this.where} refused a score or session end, so it is dropped: ${reason}${hint}. ` +
        "Further refusals for the same reason are counted, not logged.",
    );
  }

  private resolve(items: Pending[], wasDelivered: boolean): void {
    const last = items[items.length - 1]?.seq ?? 0;
    while (this.queue.length > 0 && (this.queue[0]?.seq ?? Infinity) <= last) this.queue.shift();
    this.resolved = Math.max(this.resolved, last);
    if (wasDelivered) this.delivered += items.length;
    else this.lastDropped = Math.max(this.lastDropped, last);
    const done = this.waiters.filter((w) => w.target <= this.resolved);
    this.waiters = this.waiters.filter((w) => w.target > this.resolved);
    for (const waiter of done) waiter.resolve(this.lastDropped <= waiter.resolvedAtCall);
  }
}

/**
 * What `evaluate` asks of the server: a dataset's items, a new experiment, and
 * the run's results (the JSON API's `/api/v1/datasets` and
 * `/api/v1/experiments`), as the Python SDK's `lamina/sdk/experiment_api.py`.
 *
 * Plain `node:http` with the project's API key, as scores are sent. A request
 * that fails is retried a few times when it may pass (no answer, 408, 429,
 * 5xx); any other failure rejects with {@link ExperimentError} carrying the
 * server's own message. Unlike the score sender's, these requests keep the
 * process alive: `evaluate` waits on them.
 */

import * as http from "node:http";
import * as https from "node:https";

import { errorText } from "./scores.js";
import { VERSION } from "./version.js";

export const ATTEMPTS = 4;
export const BACKOFF_MILLIS = 500;
export const TIMEOUT_MILLIS = 30_000;
export const BATCH = 500; // items in one request (the server takes at most 1,000)
export const BATCH_BYTES = 8 << 20; // and about this much JSON (it takes at most 32 MiB)

/** The server could not be asked, or refused, what an experiment needs. */
export class ExperimentError extends Error {
  override name = "ExperimentError";
}

interface Reply {
  status: number; // 0: no HTTP answer
  body: string;
  problem: string;
}

function send(url: URL, method: string, apiKey: string, body: string | undefined): Promise<Reply> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${apiKey}`,
    "user-agent": `lamina-js/${VERSION}`,
  };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(Buffer.byteLength(body));
  }
  return new Promise<Reply>((resolve) => {
    let request: http.ClientRequest;
    try {
      request = (url.protocol === "https:" ? https : http).request(url, { method, headers });
    } catch (error) {
      resolve({ status: 0, body: "", problem: String(error) });
      return;
    }
    request.setTimeout(TIMEOUT_MILLIS, () => request.destroy(new Error(`no answer within ${TIMEOUT_MILLIS} ms`)));
    request.on("error", (error: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: "", problem: `${error.code ?? error.name}: ${error.message}` }),
    );
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", (error) => resolve({ status: 0, body: "", problem: error.message }));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = response.statusCode ?? 0;
        resolve({ status, body: text, problem: `HTTP ${status}: ${errorText(text.slice(0, 2000))}` });
      });
    });
    request.end(body);
  });
}

const pause = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis));

export class ExperimentClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  /** The answer's body of `method path` (`data`, JSON text, sent when given). */
  private async text(method: string, path: string, data?: string): Promise<string> {
    let problem = "";
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (attempt > 0) await pause(BACKOFF_MILLIS * 2 ** (attempt - 1));
      const reply = await send(new URL(this.baseUrl + path), method, this.apiKey, data);
      if (reply.status >= 200 && reply.status < 300) return reply.body;
      problem = reply.problem;
      const mayPass = reply.status === 0 || reply.status === 408 || reply.status === 429 || reply.status >= 500;
      if (!mayPass) break;
    }
    throw new ExperimentError(`${method} ${this.baseUrl}${path} failed (${problem}).`);
  }

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const text = await this.text(method, path, body === undefined ? undefined : JSON.stringify(body));
    return text ? JSON.parse(text) : null;
  }

  // -- what evaluate asks ------------------------------------------------------

  /** A dataset's items, as its JSONL export gives them. */
  async datasetItems(name: string): Promise<unknown[]> {
    const text = await this.text("GET", `/api/v1/datasets/${encodeURIComponent(name)}/items?format=jsonl`);
    return text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as unknown);
  }

  /** Make the run; the server's view of it (`name`, `group`, `url`, ...). */
  async create(experiment: Record<string, unknown>): Promise<Record<string, unknown>> {
    const made = (await this.call("POST", "/api/v1/experiments", experiment)) as {
      experiment: Record<string, unknown>;
    };
    return made.experiment;
  }

  /** Send the items in requests of at most BATCH items and about BATCH_BYTES. */
  async addItems(experimentId: string, items: Record<string, unknown>[]): Promise<void> {
    const path = `/api/v1/experiments/${encodeURIComponent(experimentId)}/items`;
    let batch: string[] = [];
    let size = 0;
    const post = () => this.text("POST", path, `{"items":[${batch.join(",")}]}`);
    for (const item of items) {
      const line = JSON.stringify(item);
      const length = Buffer.byteLength(line);
      if (batch.length > 0 && (batch.length === BATCH || size + length > BATCH_BYTES)) {
        await post();
        batch = [];
        size = 0;
      }
      batch.push(line);
      size += length;
    }
    if (batch.length > 0) await post();
  }
}

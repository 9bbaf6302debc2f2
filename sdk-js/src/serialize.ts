/**
 * Inputs and outputs to JSON text, for any value, within a size limit.
 *
 * Plain values go straight through `JSON.stringify`. Anything it cannot write
 * gets a safe form: `bigint` as a string, `Map` as an object, `Set` as an
 * array, an `Error` as `{name, message}`, bytes as text, a function as
 * `"<function name>"`, a reference cycle as `"<lamina: reference cycle>"`.
 * Nothing here throws: serialising must never break the application traced.
 *
 * A result longer than the limit is cut and returned as a JSON string ending
 * with a marker saying how long the whole was, so it is still valid JSON (the
 * same marker as the Python SDK's).
 */

const MAX_DEPTH = 32;

function replacerFor(): (this: unknown, key: string, value: unknown) => unknown {
  // The objects on the path from the root to the value being written: a value
  // met again on its own path is a cycle (a value met twice elsewhere is not).
  // `holders` are what JSON.stringify passes as `this` for their children (a
  // Map's converted object, say), `path` the values they were made from.
  const holders: unknown[] = [];
  const path: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    while (holders.length > 0 && holders[holders.length - 1] !== this) {
      holders.pop();
      path.pop();
    }
    switch (typeof value) {
      case "bigint":
        return value.toString();
      case "function":
        return `<function ${value.name || "anonymous"}>`;
      case "symbol":
        return value.toString();
      case "undefined":
        return value;
      case "object":
        break;
      default:
        return value;
    }
    if (value === null) return value;
    if (path.includes(value)) return "<lamina: reference cycle>";
    if (path.length >= MAX_DEPTH) return "<lamina: nested too deep>";
    let converted: unknown = value;
    if (value instanceof Map) {
      converted = Object.fromEntries(
        [...value.entries()].map(([k, v]) => [typeof k === "string" ? k : String(k), v]),
      );
    } else if (value instanceof Set) {
      converted = [...value];
    } else if (value instanceof Error) {
      const fields: Record<string, unknown> = { name: value.name, message: value.message };
      if (value.cause !== undefined) fields.cause = value.cause;
      converted = fields;
    } else if (value instanceof Uint8Array) {
      converted = new TextDecoder("utf-8", { fatal: false }).decode(value);
    } else if (ArrayBuffer.isView(value)) {
      converted = Array.from(value as unknown as ArrayLike<number>);
    }
    if (converted !== null && typeof converted === "object") {
      holders.push(converted);
      path.push(value);
    }
    return converted;
  };
}

function encode(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    const text = JSON.stringify(value, replacerFor());
    // JSON.stringify gives undefined for undefined, a function or a symbol.
    return text === undefined ? JSON.stringify(String(value)) : text;
  } catch (error) {
    // A toJSON or a getter that throws: fall back on a description.
    let described: string;
    try {
      described = Object.prototype.toString.call(value);
    } catch {
      described = "<unserialisable value>";
    }
    return JSON.stringify(`<lamina: could not serialise ${described}: ${String(error)}>`);
  }
}

/** `text` (JSON) if it fits in `limit` characters, else its start with a marker, as a JSON string. */
export function truncate(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const marker = `... [truncated by lamina: ${text.length} characters in all, limit ${limit}]`;
  return JSON.stringify(text.slice(0, limit) + marker);
}

/** `value` as JSON text of about `limit` characters at most. Never throws. */
export function toJson(value: unknown, limit: number): string {
  if (typeof value === "string" && value.length > limit) {
    const marker = `... [truncated by lamina: ${value.length} characters in all, limit ${limit}]`;
    return JSON.stringify(value.slice(0, limit) + marker);
  }
  return truncate(encode(value), limit);
}

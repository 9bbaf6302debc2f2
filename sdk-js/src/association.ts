/**
 * Session, user, metadata and tags carried in the OpenTelemetry context.
 *
 * An association lives in a {@link Cell} under one context key. `withSession`
 * and `observe({sessionId, ...})` put a new cell in the context they run their
 * function in; the SDK's span processor writes the association's attributes on
 * every span started under it (ours and the instrumentations' alike). Because
 * it lives in the context (AsyncLocalStorage through the OTel context manager),
 * it follows the code exactly as the current span does: through `await`, into
 * callbacks and promises started inside, and never into code that runs after
 * the scope returns.
 *
 * `Laminar.setSession` (and the other setters) change the cell of the
 * `observe` span they are called in, so they apply to that span and the spans
 * started inside it afterwards, and end with it, as in the Python SDK.
 */

import type { Attributes, Context, Span } from "@opentelemetry/api";
import { createContextKey } from "@opentelemetry/api";

import * as attr from "./attributes.js";

/** `Symbol.for(...)`: the ESM and CommonJS builds share the key. */
const KEY = createContextKey("lamina-js.association");

export interface AssociationInput {
  sessionId?: string | undefined;
  userId?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
  tags?: readonly string[] | undefined;
}

/** What every span started under it belongs to. Immutable: merging makes a new one. */
export interface Association {
  readonly sessionId: string | undefined;
  readonly userId: string | undefined;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly tags: readonly string[];
  /** The span attributes, computed once. */
  readonly attributes: Attributes;
}

/** Marks cells, so that the ESM and CommonJS builds recognise each other's. */
const CELL = Symbol.for("lamina-js.cell");

/** A context's association, and the span that owns it (may change it), if any. */
export class Cell {
  readonly [CELL] = true;

  constructor(
    public association: Association | undefined,
    public owner: Span | undefined = undefined,
  ) {}
}

const NO_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});

function metadataJson(metadata: Readonly<Record<string, unknown>>): string {
  try {
    return JSON.stringify(metadata, (_key, value: unknown) =>
      typeof value === "bigint" ? value.toString() : value,
    );
  } catch {
    const safe: Record<string, string> = {};
    for (const [key, value] of Object.entries(metadata)) {
      try {
        safe[key] = String(value);
      } catch {
        safe[key] = "<unprintable>";
      }
    }
    return JSON.stringify(safe);
  }
}

function build(
  sessionId: string | undefined,
  userId: string | undefined,
  metadata: Readonly<Record<string, unknown>>,
  tags: readonly string[],
): Association {
  const attributes: Attributes = {};
  if (sessionId) attributes[attr.SESSION_ID] = sessionId;
  if (userId) attributes[attr.USER_ID] = userId;
  if (Object.keys(metadata).length > 0) attributes[attr.METADATA] = metadataJson(metadata);
  if (tags.length > 0) attributes[attr.TAGS] = [...tags];
  return Object.freeze({ sessionId, userId, metadata, tags, attributes: Object.freeze(attributes) });
}

function union(first: readonly string[], second: readonly string[]): readonly string[] {
  if (second.length === 0) return first;
  return Object.freeze([...new Set([...first, ...second])]);
}

/** `base` updated with what `other` sets (`other` wins). */
export function merge(base: Association | undefined, other: Association | undefined): Association | undefined {
  if (base === undefined) return other;
  if (other === undefined) return base;
  const hasMetadata = Object.keys(other.metadata).length > 0;
  return build(
    other.sessionId || base.sessionId,
    other.userId || base.userId,
    hasMetadata ? Object.freeze({ ...base.metadata, ...other.metadata }) : base.metadata,
    union(base.tags, other.tags),
  );
}

function checkString(name: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${typeof value}`);
  }
  return value || undefined;
}

/** An association from user arguments, checked; `undefined` when it sets nothing. */
export function make(input: AssociationInput): Association | undefined {
  const sessionId = checkString("sessionId", input.sessionId);
  const userId = checkString("userId", input.userId);
  const { metadata, tags } = input;
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new TypeError(`metadata must be an object, got ${Array.isArray(metadata) ? "an array" : typeof metadata}`);
    }
  }
  if (tags !== undefined && tags !== null && !Array.isArray(tags)) {
    throw new TypeError(`tags must be an array of strings, got ${typeof tags}`);
  }
  const hasMetadata = metadata !== undefined && metadata !== null && Object.keys(metadata).length > 0;
  const cleanTags = (tags ?? []).filter((tag) => tag !== undefined && tag !== null && tag !== "").map(String);
  if (!sessionId && !userId && !hasMetadata && cleanTags.length === 0) return undefined;
  return build(
    sessionId,
    userId,
    hasMetadata ? Object.freeze({ ...metadata }) : NO_METADATA,
    Object.freeze([...new Set(cleanTags)]),
  );
}

export function cellOf(context: Context): Cell | undefined {
  const value = context.getValue(KEY) as Partial<Cell> | undefined;
  return value !== null && typeof value === "object" && value[CELL] === true ? (value as Cell) : undefined;
}

export function current(context: Context): Association | undefined {
  return cellOf(context)?.association;
}

/** `context` with `cell` as its association's cell. */
export function withCell(context: Context, cell: Cell): Context {
  return context.setValue(KEY, cell);
}

/** `context` with `own` merged into its association, in a new cell owned by `owner`. */
export function withAssociation(context: Context, own: Association | undefined, owner?: Span): Context {
  return context.setValue(KEY, new Cell(merge(current(context), own), owner));
}

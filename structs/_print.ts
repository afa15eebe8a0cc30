// Printing records: toJSON and the Deno / Node inspect hooks, shared by every
// view class. Not exported from mod.ts.

import type { ViewInstance } from "./_codegen.ts";
import { _layoutOf, type FieldLayout } from "./_layout.ts";
import { _hooks, _readElement } from "./_runtime.ts";
import type { AtomicBigInt, AtomicInt } from "./atomic.ts";
import type { AnyStructType } from "./types.ts";
// Printing: toJSON and the inspect hooks, shared by every view class.

/** Marks a reference when printing: `Node@1234`. */
class RefPrint {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.text;
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.text;
  }
}

const snapshotClasses = new WeakMap<object, new () => object>();

function snapshotClass(type: AnyStructType): new () => object {
  let cls = snapshotClasses.get(type);
  if (cls === undefined) {
    const name = type.name;
    cls = ({ [name]: class {} })[name];
    snapshotClasses.set(type, cls);
  }
  return cls;
}

function fieldValue(view: ViewInstance, field: FieldLayout, json: boolean): unknown {
  const record = view as unknown as Record<string, unknown>;
  const type = field.type;
  const at = view.$p + field.offset;
  switch (type.kind) {
    case "scalar": {
      const value = record[field.name];
      return json && typeof value === "bigint" ? String(value) : value;
    }
    case "utf8":
    case "string":
      return record[field.name];
    case "vec": {
      const handle = record[field.name] as { toJSON(): unknown[]; toArray(): unknown[] };
      if (json) return handle.toJSON();
      return handle.toArray().map((v) =>
        typeof v === "object" && v !== null ? snapshot(v as ViewInstance, false, null) : v
      );
    }
    case "ref":
    case "selfref": {
      const ptr = view.$v.dv.getUint32(at, true);
      if (json) return ptr === 0 ? null : ptr;
      const target = type.kind === "ref" ? type.target.name : view.$t.name;
      return ptr === 0 ? null : new RefPrint(`${target}@${ptr}`);
    }
    case "atomic": {
      const value = (record[field.name] as AtomicInt | AtomicBigInt).load();
      return json && typeof value === "bigint" ? String(value) : value;
    }
    case "struct":
      return snapshot(record[field.name] as ViewInstance, json, null);
    case "array": {
      const element = type.element;
      const out: unknown[] = [];
      for (let i = 0; i < type.length; i++) {
        if (element.kind === "struct") {
          const item = new (_hooks.viewClassOf(element, 1))(view.$v, at + i * element.size);
          out.push(snapshot(item, json, null));
        } else {
          const value = _readElement(view.$v.dv, element.name, at + i * element.size);
          out.push(json && typeof value === "bigint" ? String(value) : value);
        }
      }
      return out;
    }
  }
}

function snapshot(
  view: ViewInstance,
  json: boolean,
  name: string | null,
): { [name: string]: unknown } {
  const type = view.$t;
  const out: { [name: string]: unknown } = json
    ? {}
    : name === null
    ? new (snapshotClass(type))() as { [name: string]: unknown }
    : new ({ [name]: class {} })[name]() as { [name: string]: unknown };
  for (const field of _layoutOf(type).fields) out[field.name] = fieldValue(view, field, json);
  return out;
}

/** Adds toJSON and the Deno / Node inspect hooks to a view prototype. */
export function _addPrinting(prototype: object): void {
  Object.defineProperties(prototype, {
    toJSON: {
      value: function toJSON(this: ViewInstance): { [name: string]: unknown } {
        return snapshot(this, true, null);
      },
    },
    [Symbol.for("Deno.customInspect")]: {
      value: function inspect(
        this: ViewInstance,
        inspect: (value: unknown, options?: unknown) => string,
        options: unknown,
      ): string {
        return inspect(snapshot(this, false, `${this.$t.name}@${this.$p}`), options);
      },
    },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      value: function inspect(this: ViewInstance): object {
        return snapshot(this, false, `${this.$t.name}@${this.$p}`);
      },
    },
  });
}

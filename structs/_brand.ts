// Marks the field-type descriptors made by this module so that a definition
// can tell them apart from look-alike objects. Not exported from mod.ts.

const descriptors = new WeakSet<object>();

/** Registers `descriptor` as a genuine field type. */
export function _brand(descriptor: object): void {
  descriptors.add(descriptor);
}

/** True when `value` was made by one of the field-type factories or `defineStruct`. */
export function _isBranded(value: unknown): boolean {
  return typeof value === "object" && value !== null && descriptors.has(value);
}

/** Describes a value for an error message: strings quoted, objects by constructor name. */
export function _describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "object" && value !== null) {
    const name = (value as { name?: unknown }).name;
    if (_isBranded(value) && typeof name === "string") return name;
    if (Array.isArray(value)) return `array of ${value.length}`;
    return (value as object).constructor?.name ?? "object";
  }
  return String(value);
}

/**
 * C declarations of struct fields, for `StructType.toC()`: the C type that
 * has the same layout as each field type.
 *
 * @module
 */

import type { FieldType } from "./types.ts";

const C_NAMES: Record<string, string> = {
  u8: "uint8_t",
  i8: "int8_t",
  u16: "uint16_t",
  i16: "int16_t",
  u32: "uint32_t",
  i32: "int32_t",
  f32: "float",
  f64: "double",
  bool: "bool",
  u64: "uint64_t",
  i64: "int64_t",
};

/** The C declaration of a field `name` of `type` (without the semicolon). */
export function _cDeclaration(type: FieldType, name: string): string {
  switch (type.kind) {
    case "scalar":
      return `${C_NAMES[type.name]} ${name}`;
    case "array":
      return `${_cDeclaration(type.element, name)}[${type.length}]`;
    case "utf8":
      return `char ${name}[${type.maxBytes}]`;
    case "string":
      return `uint32_t ${name}[2] /* utf8: block pointer, byte length */`;
    case "vec":
      return `uint32_t ${name}[3] /* ${type.name}: block pointer, length, capacity */`;
    case "ref":
    case "selfref":
      return `uint32_t ${name} /* ${type.name} */`;
    case "atomic":
      return `_Atomic ${C_NAMES[type.element]} ${name}`;
    case "struct":
      return `struct ${type.name} ${name}`;
  }
}

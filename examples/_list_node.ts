/**
 * The record type of `examples/linked_list.ts`: a value and a reference to
 * the next node (a recursive type).
 *
 * @module
 */
import { defineStruct, f64, selfRef } from "../structs/mod.ts";

/** A list node: 16 bytes (an f64 value and a 32-bit reference). */
export const Node = defineStruct("Node", { value: f64, next: selfRef });

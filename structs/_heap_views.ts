// Fixed-length typed-array views over a heap's buffer, one set per buffer,
// shared by every record of every struct type. Not exported from mod.ts.
//
// Why fixed-length and not length-tracking: in V8 (Deno 2.9) every element
// access through a length-tracking view of a growable SharedArrayBuffer calls
// into the runtime to read the length, about 25 ns, 30x a fixed-length view.
// Records never move when the buffer grows, so fixed-length views stay valid
// for every record they already cover; the views are rebuilt (`cover`) when a
// record beyond their end is opened (create, at, a reference, an array), and
// every record keeps a reference to this shared object, not to the arrays.

/** What the blocks of variable-length fields are allocated and freed with. */
export interface OwnerHeap {
  /** Allocates a block. */
  alloc(sizeBytes: number, alignBytes: number): number;
  /** Frees a block. */
  free(ptr: number): void;
}

/** The views of one buffer. Fields are replaced, never mutated, when the buffer grows. */
export class HeapViews {
  /** The buffer viewed. */
  readonly buffer: SharedArrayBuffer;
  /** The number of bytes the views cover. */
  byteLength = 0;
  /** Bytes. */
  u8: Uint8Array = new Uint8Array(0);
  /** Signed bytes. */
  i8: Int8Array = new Int8Array(0);
  /** 16-bit words. */
  u16: Uint16Array = new Uint16Array(0);
  /** Signed 16-bit words. */
  i16: Int16Array = new Int16Array(0);
  /** 32-bit words. */
  u32: Uint32Array = new Uint32Array(0);
  /** Signed 32-bit words. */
  i32: Int32Array = new Int32Array(0);
  /** Single-precision floats. */
  f32: Float32Array = new Float32Array(0);
  /** Double-precision floats. */
  f64: Float64Array = new Float64Array(0);
  /** Unsigned 64-bit words. */
  u64: BigUint64Array = new BigUint64Array(0);
  /** Signed 64-bit words. */
  i64: BigInt64Array = new BigInt64Array(0);
  /** Little-endian access at any byte offset. */
  dv: DataView = new DataView(new ArrayBuffer(0));
  /**
   * The heap handle this buffer was last used with in this thread (`create`,
   * `at`, `createArray`, `arrayAt`): variable-length fields allocate and free
   * their blocks through it.
   */
  heap: OwnerHeap | null = null;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.refresh();
  }

  /** Rebuilds the views if the buffer has grown. */
  refresh(): void {
    const buffer = this.buffer;
    const n = buffer.byteLength;
    if (n === this.byteLength) return;
    this.u8 = new Uint8Array(buffer, 0, n);
    this.i8 = new Int8Array(buffer, 0, n);
    this.u16 = new Uint16Array(buffer, 0, n >>> 1);
    this.i16 = new Int16Array(buffer, 0, n >>> 1);
    this.u32 = new Uint32Array(buffer, 0, n >>> 2);
    this.i32 = new Int32Array(buffer, 0, n >>> 2);
    this.f32 = new Float32Array(buffer, 0, n >>> 2);
    this.f64 = new Float64Array(buffer, 0, Math.floor(n / 8));
    this.u64 = new BigUint64Array(buffer, 0, Math.floor(n / 8));
    this.i64 = new BigInt64Array(buffer, 0, Math.floor(n / 8));
    this.dv = new DataView(buffer, 0, n);
    this.byteLength = n;
  }

  /**
   * Makes sure the views cover bytes `[0, end)`, rebuilding them if the
   * buffer grew. Returns false if the buffer itself is shorter.
   */
  cover(end: number): boolean {
    if (end <= this.byteLength) return true;
    this.refresh();
    return end <= this.byteLength;
  }
}

const table = new WeakMap<SharedArrayBuffer, HeapViews>();
let lastBuffer: SharedArrayBuffer | undefined;
let lastViews: HeapViews | undefined;

/** The shared views of `buffer` (made on first use). */
export function _viewsOf(buffer: SharedArrayBuffer): HeapViews {
  if (buffer === lastBuffer) return lastViews as HeapViews;
  let views = table.get(buffer);
  if (views === undefined) {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new TypeError(
        `Cannot use heap: its buffer must be a SharedArrayBuffer: ${
          (buffer as object)?.constructor?.name ?? String(buffer)
        }`,
      );
    }
    views = new HeapViews(buffer);
    table.set(buffer, views);
  }
  lastBuffer = buffer;
  lastViews = views;
  return views;
}

let lastHeap: object | null = null;
let lastHeapViews: HeapViews | undefined;

/**
 * The shared views of `heap.buffer`, remembered for the last heap whose
 * buffer is growable: such a buffer grows in place and stays the same object
 * (a `Heap`'s never changes then), so the heap's `buffer` getter, which reads
 * the growable buffer's length (measured about 8 ns, a fifth of a create +
 * destroy), need not run again. A fixed-length buffer (a `WebAssembly.Memory`
 * where the engine has no resizable view of it) is replaced when the memory
 * grows, so it is asked for every time.
 */
export function _viewsOfHeap(heap: { readonly buffer: SharedArrayBuffer }): HeapViews {
  if (heap === lastHeap) return lastHeapViews as HeapViews;
  const buffer = heap.buffer;
  const views = _viewsOf(buffer);
  lastHeap = buffer.growable === true ? heap : null;
  lastHeapViews = views;
  return views;
}

// The part of npm:pngjs the browser test and the screenshot script use. (@types/pngjs would pull
// @types/node into the whole type check, which changes Deno's own node:assert types.)

/** A decoded image: RGBA bytes, 4 per pixel, row by row. */
export class PNG {
  constructor(options: { width: number; height: number });
  width: number;
  height: number;
  data: Uint8Array;
  static sync: {
    read(buffer: Uint8Array): PNG;
    write(png: PNG): Uint8Array;
  };
  static bitblt(
    src: PNG,
    dst: PNG,
    srcX: number,
    srcY: number,
    width: number,
    height: number,
    deltaX: number,
    deltaY: number,
  ): void;
}

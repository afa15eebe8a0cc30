/**
 * Serves the browser demo: `deno task serve` (port from `PORT`, default 8000),
 * then open http://localhost:8000/.
 *
 * Every response carries `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`: without them a page is not
 * cross-origin isolated and has no `SharedArrayBuffer`. The library's
 * TypeScript is served to the page as ES modules, transpiled per request with
 * `typescript`'s `transpileModule` (cached until the file changes); relative
 * imports stay as they are (the server answers `.ts` URLs with JavaScript) and
 * the package's bare names are rewritten to served URLs.
 *
 * @module
 */
import ts from "typescript";
import { extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the library and the demo are served from here. */
const ROOT = resolve(fileURLToPath(new URL("../../", import.meta.url)));
/** Only these parts of the repository are served. */
const SERVED = ["mod.ts", "src/", "structs/", "examples/browser/"];
const BARE: Record<string, string> = {
  "@typedheap/typedheap": "/mod.ts",
  "@typedheap/typedheap/structs": "/structs/mod.ts",
};
const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".png": "image/png",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
};

/** Headers on every response: cross-origin isolation (for `SharedArrayBuffer`) and no caching. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Cache-Control": "no-store",
};

const cache = new Map<string, { mtime: number; code: string }>();

/** Transpiles one TypeScript file to an ES module, bare package names rewritten. */
export function transpile(source: string, fileName: string): string {
  const out = ts.transpileModule(source, {
    fileName,
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      verbatimModuleSyntax: false,
      isolatedModules: true,
    },
  });
  return out.outputText.replace(
    /(from\s*|import\s*\(?\s*)(["'])(@typedheap\/typedheap(?:\/structs)?)\2/g,
    (_m, lead: string, quote: string, name: string) => `${lead}${quote}${BARE[name]}${quote}`,
  );
}

function respond(body: BodyInit | null, status: number, type: string): Response {
  return new Response(body, {
    status,
    headers: { ...ISOLATION_HEADERS, "Content-Type": type },
  });
}

/** Answers one request of the demo. */
export async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  let path = decodeURIComponent(url.pathname);
  if (path === "/" || path === "/index.html") path = "/examples/browser/index.html";
  const rel = normalize(path).replace(/^\/+/, "");
  if (rel.includes("..") || !SERVED.some((s) => rel === s || rel.startsWith(s))) {
    return respond("Not found", 404, "text/plain; charset=utf-8");
  }
  const file = join(ROOT, rel);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch {
    return respond("Not found", 404, "text/plain; charset=utf-8");
  }
  if (!info.isFile) return respond("Not found", 404, "text/plain; charset=utf-8");
  const ext = extname(file);
  if (ext === ".ts") {
    const mtime = info.mtime?.getTime() ?? 0;
    let hit = cache.get(file);
    if (hit === undefined || hit.mtime !== mtime) {
      hit = { mtime, code: transpile(await Deno.readTextFile(file), file) };
      cache.set(file, hit);
    }
    return respond(hit.code, 200, TYPES[".js"]);
  }
  if (TYPES[ext] === undefined) return respond("Not found", 404, "text/plain; charset=utf-8");
  return respond(await Deno.readFile(file), 200, TYPES[ext]);
}

/** A running demo server. */
export interface DemoServer {
  /** The port it listens on (useful when started on port 0). */
  port: number;
  /** Stops the server and waits until it has. */
  shutdown(): Promise<void>;
}

/** Starts the demo server on `127.0.0.1:port` (0 picks a free port). */
export function startServer(port: number): DemoServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handle);
  return { port: server.addr.port, shutdown: () => server.shutdown() };
}

if (import.meta.main) {
  const port = Number(Deno.env.get("PORT") ?? 8000);
  const server = startServer(port);
  console.log(`typedheap browser demo: http://localhost:${server.port}/`);
}

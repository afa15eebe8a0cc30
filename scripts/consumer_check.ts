/**
 * Consumer check: uses the npm package the way a user gets it.
 *
 * 1. `npm pack` the built `npm/` folder (run `deno task build:npm` first) and
 *    check what the tarball holds.
 * 2. Create a scratch project in a temp dir and `npm install` the tarball.
 * 3. Type-check a TypeScript file importing every entry as a Node user's
 *    project would (`moduleResolution: "NodeNext"`, `@types/node`, no DOM),
 *    which proves the `types` conditions of `exports` and that the `.d.ts`
 *    files need no browser types.
 * 4. Run `examples/node_workers.mjs` there with plain `node` (it imports the
 *    package by its own names, resolved from the installed tarball): a heap shared by two
 *    `worker_threads` that `Heap.attach` it, and (when the package has the
 *    structs entry) struct records read across threads.
 *
 * Exits non-zero if any step fails; the scratch project is then kept and its
 * path printed.
 *
 * Run: deno task check:consumer
 *
 * @module
 */

import ts from "typescript";
import { join } from "node:path";
import {
  compile,
  ENTRIES,
  error,
  exists,
  hasErrors,
  NPM_DIR,
  PACKAGE_NAME,
  printDiagnostics,
  ROOT,
  run,
  runOrThrow,
  seconds,
  step,
  toCompilerOptions,
  TYPES_NODE,
} from "./_common.ts";

const EXAMPLE = join(ROOT, "examples", "node_workers.mjs");
/** The example may take at most this long (it normally takes about a second). */
const EXAMPLE_TIMEOUT_MS = 120_000;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

/** The package's `exports` subpaths. */
function exportedSubpaths(): string[] {
  const pkg = JSON.parse(Deno.readTextFileSync(join(NPM_DIR, "package.json")));
  return Object.keys(pkg.exports ?? {}).filter((s) => s !== "./package.json");
}

/** Checks the tarball's file list; returns the problems found. */
function checkTarball(pack: PackResult, subpaths: string[]): string[] {
  const paths = new Set(pack.files.map((f) => f.path));
  const problems: string[] = [];
  for (const required of ["package.json", "README.md", "LICENSE"]) {
    if (!paths.has(required)) problems.push(`the tarball has no ${required}`);
  }
  for (const entry of ENTRIES.filter((e) => subpaths.includes(e.subpath))) {
    for (const ext of [".js", ".d.ts", ".js.map"]) {
      const path = "esm/" + entry.source.replace(/\.ts$/, ext);
      if (!paths.has(path)) problems.push(`the tarball has no ${path}`);
    }
  }
  for (const path of paths) {
    const shipped = path === "package.json" || path === "README.md" || path === "LICENSE" ||
      (path.startsWith("esm/") && /\.(js|d\.ts|js\.map)$/.test(path));
    if (!shipped) problems.push(`the tarball should not hold ${path}`);
  }
  return problems;
}

/** The example, checked to import the package by its own name. */
function consumerScript(): string {
  const text = Deno.readTextFileSync(EXAMPLE);
  if (!text.includes(`from "${PACKAGE_NAME}"`)) {
    throw new Error(`examples/node_workers.mjs no longer imports "${PACKAGE_NAME}"`);
  }
  return text;
}

/** Type-checks a file importing every entry, as a Node user's TypeScript would. */
function typeCheck(project: string, subpaths: string[]): boolean {
  const lines = [`import { Heap } from "${PACKAGE_NAME}";`];
  const hasStructs = subpaths.includes("./structs");
  if (hasStructs) lines.push(`import * as structs from "${PACKAGE_NAME}/structs";`);
  lines.push(
    "const heap: Heap = Heap.create({ initialBytes: 1 << 16 });",
    "const ptr: number = heap.alloc(16);",
    "heap.free(ptr);",
    "export const again: Heap = Heap.attach(heap.buffer);",
  );
  if (hasStructs) lines.push("export const names: string[] = Object.keys(structs);");
  const file = join(project, "consumer_types.ts");
  Deno.writeTextFileSync(file, lines.join("\n") + "\n");
  const options = toCompilerOptions({
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2024"],
    types: ["node"],
    typeRoots: [join(project, "node_modules", "@types")],
    strict: true,
    noEmit: true,
    skipLibCheck: false,
  }, project);
  const result = compile([file], options);
  printDiagnostics(result.diagnostics);
  const resolved =
    result.program.getSourceFiles().filter((f) =>
      f.fileName.includes(`/node_modules/${PACKAGE_NAME}/esm/`)
    ).length;
  if (hasErrors(result.diagnostics)) {
    error("a TypeScript user of the package (NodeNext, @types/node, no DOM) gets type errors");
    return false;
  }
  console.log(
    `TypeScript ${ts.version} (NodeNext, lib ES2024, @types/node, no DOM) checks the ` +
      `package's types: ${resolved} .d.ts files, no error`,
  );
  return true;
}

async function check(scratch: string): Promise<boolean> {
  const subpaths = exportedSubpaths();

  step("check:consumer: npm pack");
  const packJson = await runOrThrow(
    "npm",
    ["pack", "--json", "--pack-destination", scratch],
    { cwd: NPM_DIR, captureStdout: true },
  );
  const pack = (JSON.parse(packJson) as PackResult[])[0];
  console.log(
    `${pack.filename}: ${pack.files.length} files, ${(pack.size / 1024).toFixed(1)} KiB packed, ` +
      `${(pack.unpackedSize / 1024).toFixed(1)} KiB unpacked`,
  );
  const problems = checkTarball(pack, subpaths);
  for (const problem of problems) error(problem);
  if (problems.length > 0) return false;

  step("check:consumer: npm install the tarball into a scratch project");
  const project = join(scratch, "project");
  Deno.mkdirSync(project);
  const manifest = { name: "typedheap-consumer-check", private: true, type: "module" };
  Deno.writeTextFileSync(join(project, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
  await runOrThrow(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      join(scratch, pack.filename),
      `${TYPES_NODE.name}@${TYPES_NODE.version}`,
    ],
    { cwd: project, timeoutMs: 5 * 60_000 },
  );

  step("check:consumer: type-check an import of every entry");
  if (!typeCheck(project, subpaths)) return false;

  step("check:consumer: node consumer.mjs (examples/node_workers.mjs from the package)");
  Deno.writeTextFileSync(join(project, "consumer.mjs"), consumerScript());
  const result = await run("node", ["consumer.mjs"], {
    cwd: project,
    timeoutMs: EXAMPLE_TIMEOUT_MS,
    captureStdout: true,
  });
  console.log(result.stdout.trimEnd());
  if (result.code !== 0) {
    error(`node consumer.mjs failed with exit code ${result.code}`);
    return false;
  }
  if (subpaths.includes("./structs") && !result.stdout.includes("structs: ok")) {
    error(`the package exports "./structs" but the example did not use it`);
    return false;
  }
  if (!result.stdout.includes("node_workers: ok")) {
    error("the example did not report success");
    return false;
  }
  return true;
}

async function main(): Promise<number> {
  const started = performance.now();
  if (!exists(join(NPM_DIR, "package.json"))) {
    error("npm/package.json is missing: run `deno task build:npm` first");
    return 1;
  }
  const scratch = await Deno.makeTempDir({ prefix: "typedheap-consumer-" });
  let ok = false;
  try {
    ok = await check(scratch);
  } catch (e) {
    error(e instanceof Error ? e.message : String(e));
  }
  if (ok) {
    await Deno.remove(scratch, { recursive: true });
    console.log(`check:consumer: passed in ${seconds(started)}`);
    return 0;
  }
  console.log(`check:consumer: FAILED in ${seconds(started)}; scratch project kept in ${scratch}`);
  return 1;
}

Deno.exit(await main());

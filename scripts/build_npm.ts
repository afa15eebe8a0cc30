/**
 * Builds the npm package into `npm/` (the `@deno/dnt` equivalent, made from
 * `npm:typescript` because dnt is published on JSR only):
 *
 * - compiles `mod.ts` and `structs/mod.ts` (an entry whose file does not exist
 *   yet is skipped with a warning) and everything they import to ES2022 ES
 *   modules with `.d.ts` declarations and source maps in `npm/esm/`;
 * - stops with exit code 1 and the diagnostics on any type error;
 * - writes `npm/package.json` (version from deno.json) and copies README.md
 *   and LICENSE;
 * - imports every entry once with `node` through the package's `exports`.
 *
 * Sources may use the `Deno` global only behind a `typeof Deno` check: the
 * build then compiles them with an ambient `declare const Deno: any` and
 * fails if a use is not guarded in its function.
 *
 * Run: deno task build:npm
 *
 * @module
 */

import ts from "typescript";
import { dirname, join, relative } from "node:path";
import {
  buildOptionsJson,
  builtPath,
  compile,
  type CompileResult,
  type Entry,
  error,
  ESM_DIR,
  hasErrors,
  NPM_DIR,
  PACKAGE_NAME,
  presentEntries,
  printDiagnostics,
  readDenoJson,
  rel,
  ROOT,
  run,
  seconds,
  step,
  toCompilerOptions,
} from "./_common.ts";

const DENO_SHIM = join(ROOT, ".npm_build", "deno_shim.d.ts");
const DENO_SHIM_TEXT = [
  "// Build-time stand-in for the Deno namespace: sources may only use it behind",
  "// a `typeof Deno` check, so Node and browsers never reach it.",
  "// deno-lint-ignore no-explicit-any",
  "declare const Deno: any;",
  "",
].join("\n");

/** The package.json written into `npm/`. */
function packageJson(entries: readonly Entry[]): Record<string, unknown> {
  const deno = readDenoJson();
  if (!deno.version) throw new Error("deno.json has no version");
  const exports: Record<string, unknown> = {};
  for (const entry of entries) {
    exports[entry.subpath] = {
      types: builtPath(entry.source, ".d.ts"),
      import: builtPath(entry.source, ".js"),
    };
  }
  exports["./package.json"] = "./package.json";
  return {
    name: PACKAGE_NAME,
    version: deno.version,
    description: "A typed-object memory pool in one SharedArrayBuffer: allocators, " +
      "Atomics locks and struct records shared by workers without copying",
    keywords: ["sharedarraybuffer", "allocator", "malloc", "heap", "atomics", "workers", "struct"],
    license: deno.license ?? "MIT",
    type: "module",
    main: builtPath("mod.ts", ".js"),
    types: builtPath("mod.ts", ".d.ts"),
    exports,
    files: ["esm/", "README.md", "LICENSE"],
    sideEffects: false,
    engines: { node: ">=20" },
  };
}

function isDenoDiagnostic(d: ts.Diagnostic): boolean {
  return ts.flattenDiagnosticMessageText(d.messageText, "\n").includes("'Deno'");
}

/** The node at `pos` in `file`: the innermost one that contains it. */
function nodeAt(file: ts.SourceFile, pos: number): ts.Node {
  let found: ts.Node = file;
  const visit = (node: ts.Node): void => {
    if (pos >= node.getStart(file) && pos < node.getEnd()) {
      found = node;
      ts.forEachChild(node, visit);
    }
  };
  ts.forEachChild(file, visit);
  return found;
}

/**
 * True if a use of `Deno` is inside a function (or, at top level, a file)
 * that checks `typeof Deno` — the rule the sources must follow.
 */
function isGuarded(file: ts.SourceFile, pos: number): boolean {
  let node: ts.Node | undefined = nodeAt(file, pos);
  while (node && !ts.isFunctionLike(node) && !ts.isSourceFile(node)) node = node.parent;
  const scope = node ?? file;
  return /typeof\s+Deno\b/.test(scope.getText(file));
}

/** Reports uses of the Deno global; returns false if one is not guarded. */
function checkDenoUses(result: CompileResult): boolean {
  let ok = true;
  const reported = new Set<string>();
  for (const d of result.diagnostics.filter(isDenoDiagnostic)) {
    if (!d.file || d.start === undefined) continue;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const where = `${rel(d.file.fileName)}:${line + 1}`;
    if (reported.has(where)) continue;
    reported.add(where);
    if (isGuarded(d.file, d.start)) {
      console.log(`note: ${where} uses the Deno global behind a typeof check`);
    } else {
      error(
        `${where} uses the Deno global without a \`typeof Deno !== "undefined"\` check ` +
          "in the same function: it would throw a ReferenceError under Node",
      );
      ok = false;
    }
  }
  return ok;
}

/** Compiles the entries into npm/esm; returns false (diagnostics printed) on any error. */
function compileEntries(entries: readonly Entry[]): boolean {
  const options = toCompilerOptions(
    { ...buildOptionsJson(), rootDir: ROOT, outDir: ESM_DIR },
    ROOT,
  );
  const roots = entries.map((e) => join(ROOT, e.source));
  let result = compile(roots, options);
  if (result.diagnostics.some(isDenoDiagnostic)) {
    // The first pass emitted nothing (noEmitOnError) because of those errors: check
    // that every use is guarded, then compile again with the ambient declaration.
    if (!checkDenoUses(result)) return false;
    result = compile(roots, options, [{ path: DENO_SHIM, text: DENO_SHIM_TEXT }]);
  }
  printDiagnostics(result.diagnostics);
  if (hasErrors(result.diagnostics)) {
    error(`TypeScript reported ${result.diagnostics.length} problem(s); nothing was emitted`);
    return false;
  }
  const sources = result.program.getSourceFiles().filter((f) =>
    !result.program.isSourceFileDefaultLibrary(f) && f.fileName !== DENO_SHIM
  );
  console.log(
    `compiled ${sources.length} source files into ${
      rel(ESM_DIR)
    }/ (${result.written.length} files)`,
  );
  for (const file of sources) {
    if (!file.fileName.startsWith(ROOT + "/") || file.fileName.includes("/node_modules/")) {
      error(`the package would depend on a file outside the repository: ${file.fileName}`);
      return false;
    }
  }
  let ok = true;
  for (const name of result.written.filter((f) => f.endsWith(".d.ts"))) {
    if (/typeof\s+Deno\b|\bDeno\./.test(stripComments(Deno.readTextFileSync(name)))) {
      error(`${rel(name)} mentions the Deno global in a type: Node users cannot compile it`);
      ok = false;
    }
  }
  for (const entry of entries) {
    for (const ext of [".js", ".d.ts"] as const) {
      const path = join(NPM_DIR, builtPath(entry.source, ext));
      if (!result.written.includes(path)) {
        error(`expected ${rel(path)} to be written`);
        ok = false;
      }
    }
  }
  return ok;
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/**
 * Links `node_modules/@typedheap/typedheap` to `npm/`, so a script in the
 * repository (examples/node_workers.mjs) imports the build with the package's
 * own names under Node. Deno does not look there (deno.json's import map maps
 * those names to the sources).
 */
function linkForExamples(): void {
  const link = join(ROOT, "node_modules", ...PACKAGE_NAME.split("/"));
  Deno.mkdirSync(dirname(link), { recursive: true });
  try {
    if (!Deno.lstatSync(link).isSymlink) {
      error(`${rel(link)} exists and is not a symlink: not replacing it`);
      return;
    }
    Deno.removeSync(link);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  Deno.symlinkSync(relative(dirname(link), NPM_DIR), link);
  console.log(`linked ${rel(link)} -> ${rel(NPM_DIR)}/ (for node examples/node_workers.mjs)`);
}

/** Imports every entry with node through package.json `exports` (self-reference). */
async function smokeImport(entries: readonly Entry[]): Promise<boolean> {
  const specifiers = JSON.stringify(entries.map((e) => e.specifier));
  const script = `for (const s of ${specifiers}) {
  const m = await import(s);
  console.log("node imports " + s + ": " + Object.keys(m).length + " exports");
}`;
  const { code } = await run("node", ["--input-type=module", "-e", script], { cwd: NPM_DIR });
  if (code !== 0) error("the built package does not load under Node (see above)");
  return code === 0;
}

async function main(): Promise<number> {
  const started = performance.now();
  step("build:npm: compile with TypeScript " + ts.version);
  const entries = presentEntries();
  if (entries.length === 0) {
    error("no entry point exists");
    return 1;
  }
  await Deno.remove(NPM_DIR, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  Deno.mkdirSync(ESM_DIR, { recursive: true });
  if (!compileEntries(entries)) return 1;

  const pkg = packageJson(entries);
  Deno.writeTextFileSync(join(NPM_DIR, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  for (const file of ["README.md", "LICENSE"]) {
    Deno.copyFileSync(join(ROOT, file), join(NPM_DIR, file));
  }
  console.log(
    `wrote ${rel(join(NPM_DIR, "package.json"))} (${pkg.name}@${pkg.version}, exports ${
      entries.map((e) => `"${e.subpath}"`).join(", ")
    }), README.md, LICENSE`,
  );
  if (!(await smokeImport(entries))) return 1;
  linkForExamples();
  console.log(`build:npm: done in ${seconds(started)}: ${rel(NPM_DIR)}/`);
  return 0;
}

Deno.exit(await main());

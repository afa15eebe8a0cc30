/**
 * Runs the portable test suite under Node against the BUILT package in `npm/`
 * (run `deno task build:npm` first; `deno task test:npm` does both).
 *
 * - Portable tests are the `*_test.ts` files under tests/, written with `node:test`;
 *   a file that uses `Deno.` or starts a web `Worker` (itself or through a helper it imports) is
 *   Deno-only and skipped.
 * - Each test and the test helpers it imports are copied to `npm/test/` with
 *   their imports rewritten: `mod.ts` → `@typedheap/typedheap`,
 *   `structs/mod.ts` → `@typedheap/typedheap/structs` (resolved by Node's
 *   package self-reference through `npm/package.json` `exports`, exactly as a
 *   user's import is), any other library file → its compiled file in
 *   `npm/esm/` (so a test reaching an internal module shares the package's
 *   module instances). A test that imports a library file the package does not
 *   contain is skipped with a warning.
 * - npm dependencies the tests import (fast-check) are installed with npm, at
 *   the versions pinned in deno.json's import map, into a scratch folder in
 *   the system temp dir (reused while the pins are unchanged), together with
 *   `@types/node` for Node 20, and linked as `npm/test/node_modules`.
 * - The copies are type-checked and compiled with the build's settings
 *   (against the package's `.d.ts` files and Node's types, no DOM), then run
 *   with `node --test` and `TYPEDHEAP_DEBUG=1`. The exit code is node's.
 *
 * Run: deno task test:node
 *
 * @module
 */

import ts from "typescript";
import { dirname, join, relative, resolve, sep } from "node:path";
import { tmpdir } from "node:os";
import {
  buildOptionsJson,
  compile,
  ENTRIES,
  error,
  ESM_DIR,
  exists,
  hasErrors,
  NPM_DIR,
  NPM_TEST_DIR,
  type NpmDep,
  PACKAGE_NAME,
  printDiagnostics,
  readDenoJson,
  rel,
  ROOT,
  run,
  runOrThrow,
  seconds,
  step,
  toCompilerOptions,
  TYPES_NODE,
  warn,
} from "./_common.ts";

/**
 * A whole `node --test` run may take at most this long. (Not `--test-timeout`:
 * in Node 20 its timer keeps every test file's process alive until it fires.)
 */
const NODE_TEST_TIMEOUT_MS = 10 * 60_000;

const TESTS_DIR = join(ROOT, "tests");

/** A string literal in a file that names a module, and what to replace it with. */
interface Edit {
  start: number;
  end: number;
  text: string;
}

/** One test file (or helper) to stage, after its imports were looked at. */
interface Staged {
  /** Absolute source path under tests/. */
  source: string;
  /** Rewritten text. */
  text: string;
}

/** The outcome of staging one test file with its helpers. */
type Plan =
  | { ok: true; files: Staged[] }
  | { ok: false; reason: string };

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) walk(path, out);
    else if (entry.isFile && entry.name.endsWith("_test.ts")) out.push(path);
  }
  return out.sort();
}

/** Every module specifier literal in a file, with the node holding it. */
function specifierLiterals(file: ts.SourceFile): ts.StringLiteralLike[] {
  const found: ts.StringLiteralLike[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier);
    } else if (
      ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0]);
    } else if (
      ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal);
    } else if (
      // new URL("./worker.ts", import.meta.url): a worker script next to the test.
      ts.isNewExpression(node) && ts.isIdentifier(node.expression) &&
      node.expression.text === "URL" && node.arguments?.length === 2 &&
      ts.isStringLiteralLike(node.arguments[0]) && node.arguments[0].text.startsWith(".") &&
      node.arguments[1].getText(file) === "import.meta.url"
    ) {
      found.push(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/** Package name of a bare specifier (`@scope/name/sub` → `@scope/name`). */
function packageNameOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Parses `npm:name@version/sub` into the dependency and the bare specifier to use. */
function parseNpm(target: string): { dep: NpmDep; bare: string } | undefined {
  const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)(\/.*)?$/.exec(target);
  if (!m) return undefined;
  return { dep: { name: m[1], version: m[2] }, bare: m[1] + (m[3] ?? "") };
}

/**
 * Works out how to stage `testFile` and every helper under tests/ it imports.
 *
 * @param testFile Absolute path of a `*_test.ts` file.
 * @param imports deno.json's import map.
 * @param deps Collects the npm packages the tests need.
 */
function plan(testFile: string, imports: Record<string, string>, deps: Map<string, NpmDep>): Plan {
  const files: Staged[] = [];
  const seen = new Set<string>();
  const queue = [testFile];
  const entryBySource = new Map(ENTRIES.map((e) => [join(ROOT, e.source), e]));
  while (queue.length > 0) {
    const source = queue.pop() as string;
    if (seen.has(source)) continue;
    seen.add(source);
    if (!exists(source)) return { ok: false, reason: `${rel(source)} does not exist` };
    const text = Deno.readTextFileSync(source);
    if (/\bDeno\./.test(text) || usesWebWorker(text)) {
      return {
        ok: false,
        reason: source === testFile ? "uses Deno APIs" : `imports ${rel(source)}, which uses Deno`,
      };
    }
    const file = ts.createSourceFile(source, text, ts.ScriptTarget.Latest, true);
    const edits: Edit[] = [];
    const staged = join(NPM_TEST_DIR, relative(TESTS_DIR, source));
    for (const literal of specifierLiterals(file)) {
      const spec = literal.text;
      let replacement = spec;
      if (spec.startsWith("./") || spec.startsWith("../")) {
        const target = resolve(dirname(source), spec);
        const entry = entryBySource.get(target);
        if (entry) {
          if (!exists(join(NPM_DIR, "esm", entry.source.replace(/\.ts$/, ".js")))) {
            return { ok: false, reason: `imports ${entry.source}, which is not built` };
          }
          replacement = entry.specifier;
        } else if (target.startsWith(TESTS_DIR + sep)) {
          queue.push(target);
        } else {
          const built = join(ESM_DIR, relative(ROOT, target)).replace(/\.ts$/, ".js");
          if (target.startsWith(NPM_DIR + sep) || !exists(built)) {
            return {
              ok: false,
              reason: `imports ${rel(target)}, which is not part of the built package`,
            };
          }
          let path = relative(dirname(staged), built).split(sep).join("/");
          if (!path.startsWith(".")) path = "./" + path;
          replacement = path;
        }
      } else if (spec.startsWith("node:")) {
        continue;
      } else if (spec.startsWith("npm:")) {
        const parsed = parseNpm(spec);
        if (!parsed) return { ok: false, reason: `cannot read the npm specifier "${spec}"` };
        deps.set(parsed.dep.name, parsed.dep);
        replacement = parsed.bare;
      } else if (spec === PACKAGE_NAME || spec.startsWith(PACKAGE_NAME + "/")) {
        const entry = ENTRIES.find((e) => e.specifier === spec);
        if (!entry || !exists(join(ESM_DIR, entry.source.replace(/\.ts$/, ".js")))) {
          return { ok: false, reason: `imports "${spec}", which the package does not export` };
        }
        continue;
      } else if (/^[a-z][a-z0-9+.-]*:/i.test(spec)) {
        return { ok: false, reason: `imports "${spec}", which Node cannot load` };
      } else {
        const name = packageNameOf(spec);
        const target = imports[spec] ?? imports[name];
        const parsed = target === undefined ? undefined : parseNpm(target);
        if (!parsed) {
          return {
            ok: false,
            reason: `imports "${spec}", which is not an npm: package in deno.json's imports`,
          };
        }
        deps.set(parsed.dep.name, parsed.dep);
        continue;
      }
      if (replacement !== spec) {
        const quote = literal.getText(file)[0];
        edits.push({
          start: literal.getStart(file),
          end: literal.getEnd(),
          text: quote + replacement + quote,
        });
      }
    }
    let out = text;
    for (const edit of edits.sort((a, b) => b.start - a.start)) {
      out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    }
    files.push({ source, text: out });
  }
  return { ok: true, files };
}

/** Installs `deps` into a scratch folder (reused while they are unchanged); returns it. */
async function installDeps(deps: NpmDep[]): Promise<string> {
  const spec = deps.map((d) => `${d.name}@${d.version}`).sort().join(" ");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(spec));
  const key = Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const dir = join(tmpdir(), "typedheap-node-test-deps", key);
  const marker = join(dir, ".installed");
  if (exists(marker) && Deno.readTextFileSync(marker) === spec) {
    console.log(`npm dependencies (${spec}) already in ${dir}`);
    return dir;
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  Deno.mkdirSync(dir, { recursive: true });
  const dependencies = Object.fromEntries(deps.map((d) => [d.name, d.version]));
  const pkg = { name: "typedheap-node-test-deps", private: true, dependencies };
  Deno.writeTextFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  console.log(`installing ${spec} into ${dir}`);
  await runOrThrow("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: dir,
    timeoutMs: 5 * 60_000,
  });
  Deno.writeTextFileSync(marker, spec);
  return dir;
}

async function main(): Promise<number> {
  const started = performance.now();
  step("test:node: stage the portable tests");
  if (!exists(join(NPM_DIR, "package.json"))) {
    error("npm/package.json is missing: run `deno task build:npm` first");
    return 1;
  }
  const imports = readDenoJson().imports ?? {};
  const deps = new Map<string, NpmDep>();
  const staged: Staged[] = [];
  const roots: string[] = [];
  const skipped: string[] = [];
  for (const testFile of walk(TESTS_DIR)) {
    const p = plan(testFile, imports, deps);
    if (!p.ok) {
      skipped.push(`${rel(testFile)}: ${p.reason}`);
      continue;
    }
    roots.push(join(NPM_TEST_DIR, relative(TESTS_DIR, testFile)));
    for (const file of p.files) {
      if (!staged.some((s) => s.source === file.source)) staged.push(file);
    }
  }
  for (const line of skipped) {
    if (line.endsWith("uses Deno APIs")) console.log(`skip (Deno-only) ${line}`);
    else warn(`skip ${line}`);
  }
  if (roots.length === 0) {
    error("no portable test file found under tests/");
    return 1;
  }

  await Deno.remove(NPM_TEST_DIR, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  for (const file of staged) {
    const path = join(NPM_TEST_DIR, relative(TESTS_DIR, file.source));
    Deno.mkdirSync(dirname(path), { recursive: true });
    Deno.writeTextFileSync(path, file.text);
  }
  deps.set(TYPES_NODE.name, TYPES_NODE);
  const depsDir = await installDeps([...deps.values()]);
  Deno.symlinkSync(join(depsDir, "node_modules"), join(NPM_TEST_DIR, "node_modules"));

  step(`test:node: type-check and compile ${roots.length} test files against the package`);
  const options = toCompilerOptions({
    ...buildOptionsJson(),
    declaration: false,
    inlineSources: false,
    lib: ["ES2024", "ESNext.Disposable"],
    types: ["node"],
    typeRoots: [join(NPM_TEST_DIR, "node_modules", "@types")],
    rootDir: NPM_TEST_DIR,
    outDir: NPM_TEST_DIR,
  }, NPM_TEST_DIR);
  const result = compile(roots, options);
  printDiagnostics(result.diagnostics);
  if (hasErrors(result.diagnostics)) {
    error(`the tests do not compile against the built package (copies in ${rel(NPM_TEST_DIR)}/)`);
    return 1;
  }
  const outside = result.program.getSourceFiles().filter((f) =>
    !f.isDeclarationFile && !f.fileName.startsWith(NPM_TEST_DIR + "/")
  );
  for (const f of outside) {
    error(`a test compiled a source file outside npm/test (not the package): ${f.fileName}`);
  }
  if (outside.length > 0) return 1;

  step(`test:node: node --test with Node ${nodeVersion()}`);
  const files = roots.map((r) => relative(NPM_TEST_DIR, r).replace(/\.ts$/, ".js"));
  const nodeArgs = [
    "--test",
    "--enable-source-maps",
    ...files,
  ];
  const { code } = await run("node", nodeArgs, {
    cwd: NPM_TEST_DIR,
    env: { TYPEDHEAP_DEBUG: "1" },
    timeoutMs: NODE_TEST_TIMEOUT_MS,
  });
  console.log(
    `test:node: ${code === 0 ? "passed" : "FAILED"} in ${seconds(started)} ` +
      `(${roots.length} files run, ${skipped.length} skipped)`,
  );
  return code;
}

function nodeVersion(): string {
  const out = new Deno.Command("node", { args: ["--version"], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.exit(await main());

/**
 * True when `text` starts a web `Worker` (a global of Deno and browsers; Node
 * 20 has only `worker_threads.Worker`, which such a file would import).
 */
function usesWebWorker(text: string): boolean {
  return /\bnew Worker\(/.test(text) &&
    !/import\s*\{[^}]*\bWorker\b[^}]*\}\s*from\s*"node:worker_threads"/.test(text);
}

/**
 * Shared pieces of the npm tooling (`build_npm.ts`, `test_node.ts`,
 * `consumer_check.ts`): repository paths, the TypeScript settings of the npm
 * build, a compile step that prints diagnostics, and subprocess helpers.
 *
 * Everything here runs under Deno and uses `npm:typescript` (through the
 * `typescript` entry of deno.json's import map) programmatically.
 *
 * @module
 */

import ts from "typescript";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (the folder holding deno.json). */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** Where the npm package is written. */
export const NPM_DIR: string = join(ROOT, "npm");
/** Types for Node's APIs, for the Node major version CI runs (20). */
export const TYPES_NODE: NpmDep = { name: "@types/node", version: "20.19.43" };

/** An npm package to install: name and exact version. */
export interface NpmDep {
  /** Package name. */
  name: string;
  /** Exact version. */
  version: string;
}

/** Where the compiled library goes inside the package. */
export const ESM_DIR: string = join(NPM_DIR, "esm");
/** Where the portable tests are staged and compiled (not part of the package). */
export const NPM_TEST_DIR: string = join(NPM_DIR, "test");
/** The package name, also the specifier of the main entry. */
export const PACKAGE_NAME = "@typedheap/typedheap";

/** One entry point of the package. */
export interface Entry {
  /** The subpath in package.json `exports` (`.` or `./structs`). */
  subpath: string;
  /** The specifier users import (`@typedheap/typedheap/structs`). */
  specifier: string;
  /** The TypeScript source, relative to the repository root (`structs/mod.ts`). */
  source: string;
}

/** The entries the package is meant to have; one whose source is missing is skipped. */
export const ENTRIES: readonly Entry[] = [
  { subpath: ".", specifier: PACKAGE_NAME, source: "mod.ts" },
  { subpath: "./structs", specifier: `${PACKAGE_NAME}/structs`, source: "structs/mod.ts" },
  {
    subpath: "./collections",
    specifier: `${PACKAGE_NAME}/collections`,
    source: "src/collections/mod.ts",
  },
];

/** The parts of deno.json the npm tooling reads. */
export interface DenoJson {
  name?: string;
  version?: string;
  license?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
  compilerOptions?: Record<string, unknown>;
}

/** Reads deno.json at the repository root. */
export function readDenoJson(): DenoJson {
  return JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json"))) as DenoJson;
}

/** True if `path` exists (file, folder or symlink). */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The entries whose sources exist; prints a warning for each one that does not. */
export function presentEntries(): Entry[] {
  const present: Entry[] = [];
  for (const entry of ENTRIES) {
    if (exists(join(ROOT, entry.source))) present.push(entry);
    else warn(`${entry.source} does not exist yet: the "${entry.subpath}" entry is skipped`);
  }
  return present;
}

/** The built JavaScript file of an entry, relative to the package root (`./esm/mod.js`). */
export function builtPath(source: string, ext: ".js" | ".d.ts"): string {
  return "./esm/" + source.replace(/\.ts$/, ext);
}

/** Prints a warning line to stderr. */
export function warn(message: string): void {
  console.error(`%cwarning%c: ${message}`, "color: yellow; font-weight: bold", "");
}

/** Prints an error line to stderr. */
export function error(message: string): void {
  console.error(`%cerror%c: ${message}`, "color: red; font-weight: bold", "");
}

/** Prints a step heading. */
export function step(message: string): void {
  console.log(`%c==> ${message}`, "font-weight: bold");
}

/**
 * The compiler options of the npm build, as tsconfig JSON: the settings
 * (ES2022 output, ES modules, bundler resolution, `.ts` import specifiers
 * rewritten to `.js`, declarations, source maps, strict) plus deno.json's
 * `compilerOptions` (strictness flags), without its Deno-only `lib`/`types`.
 */
export function buildOptionsJson(): Record<string, unknown> {
  const fromDeno = { ...(readDenoJson().compilerOptions ?? {}) };
  delete fromDeno.lib;
  delete fromDeno.types;
  return {
    ...fromDeno,
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    rewriteRelativeImportExtensions: true,
    // Sources use growable SharedArrayBuffer and Atomics.waitAsync (ES2024 library
    // types), Disposable/Symbol.dispose for lock guards (Node 20 has all three) and
    // web globals (setTimeout, performance, TextEncoder).
    lib: ["ES2024", "ESNext.Disposable", "DOM"],
    types: [],
    strict: true,
    isolatedModules: true,
    declaration: true,
    sourceMap: true,
    inlineSources: true,
    noEmitOnError: true,
    skipLibCheck: false,
    forceConsistentCasingInFileNames: true,
    newLine: "lf",
  };
}

/** Converts tsconfig-style JSON options into TypeScript's `CompilerOptions`. */
export function toCompilerOptions(
  json: Record<string, unknown>,
  basePath: string,
): ts.CompilerOptions {
  const { options, errors } = ts.convertCompilerOptionsFromJson(json, basePath);
  if (errors.length > 0) {
    printDiagnostics(errors);
    throw new Error("Invalid compiler options");
  }
  return options;
}

const formatHost: ts.FormatDiagnosticsHost = {
  getCanonicalFileName: (fileName) => fileName,
  getCurrentDirectory: () => ROOT,
  getNewLine: () => "\n",
};

/** Prints diagnostics with their source context. */
export function printDiagnostics(diagnostics: readonly ts.Diagnostic[]): void {
  if (diagnostics.length === 0) return;
  const color = Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
  console.error(
    color
      ? ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost)
      : ts.formatDiagnostics(diagnostics, formatHost),
  );
}

/** A virtual `.d.ts` file added to a program. */
export interface VirtualFile {
  /** Absolute path (need not exist on disk). */
  path: string;
  /** Contents. */
  text: string;
}

/** The result of `compile`. */
export interface CompileResult {
  /** The program that was compiled. */
  program: ts.Program;
  /** Every diagnostic (options, syntax, semantic, declaration, emit). */
  diagnostics: readonly ts.Diagnostic[];
  /** Files written. */
  written: string[];
}

/**
 * Type-checks `rootNames` and, if there is no error, emits them.
 *
 * @param rootNames Absolute paths of the root files.
 * @param options Compiler options.
 * @param virtualFiles Extra declaration files that exist only in memory.
 * @returns The program, its diagnostics and the files written.
 */
export function compile(
  rootNames: readonly string[],
  options: ts.CompilerOptions,
  virtualFiles: readonly VirtualFile[] = [],
): CompileResult {
  const host = ts.createCompilerHost(options, true);
  const virtual = new Map(virtualFiles.map((f) => [resolve(f.path), f.text]));
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => virtual.has(resolve(name)) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(resolve(name)) ?? readFile.call(host, name);
  host.getSourceFile = (name, languageVersion, onError, shouldCreate) => {
    const text = virtual.get(resolve(name));
    if (text !== undefined) return ts.createSourceFile(name, text, languageVersion, true);
    return getSourceFile.call(host, name, languageVersion, onError, shouldCreate);
  };
  const written: string[] = [];
  const writeFile = host.writeFile;
  host.writeFile = (name, ...rest) => {
    written.push(name);
    writeFile.call(host, name, ...rest);
  };
  const program = ts.createProgram({
    rootNames: [...rootNames, ...virtual.keys()],
    options,
    host,
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program)];
  if (!diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error)) {
    const transformers = { afterDeclarations: [rewriteDeclarationSpecifiers] };
    diagnostics.push(
      ...program.emit(undefined, undefined, undefined, false, transformers).diagnostics,
    );
  }
  return { program, diagnostics, written };
}

/** `./x.ts` → `./x.js` for relative specifiers; anything else unchanged. */
export function jsSpecifier(specifier: string): string {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return specifier;
  if (specifier.endsWith(".d.ts")) return specifier;
  return specifier.replace(/\.ts$/, ".js").replace(/\.mts$/, ".mjs").replace(/\.cts$/, ".cjs");
}

/**
 * A declaration transformer that does for `.d.ts` files what
 * `rewriteRelativeImportExtensions` does for `.js` files (TypeScript leaves
 * `./x.ts` in declarations, which older TypeScript versions and other tools
 * reading the package cannot resolve).
 */
function rewriteDeclarationSpecifiers(
  context: ts.TransformationContext,
): (node: ts.SourceFile | ts.Bundle) => ts.SourceFile | ts.Bundle {
  const f = context.factory;
  const literal = (node: ts.Expression | undefined): ts.StringLiteral | undefined => {
    if (!node || !ts.isStringLiteral(node)) return undefined;
    const rewritten = jsSpecifier(node.text);
    return rewritten === node.text ? undefined : f.createStringLiteral(rewritten);
  };
  const visit = (node: ts.Node): ts.Node => {
    if (ts.isImportDeclaration(node)) {
      const spec = literal(node.moduleSpecifier);
      if (spec) {
        return f.updateImportDeclaration(
          node,
          node.modifiers,
          node.importClause,
          spec,
          node.attributes,
        );
      }
    } else if (ts.isExportDeclaration(node)) {
      const spec = literal(node.moduleSpecifier);
      if (spec) {
        return f.updateExportDeclaration(
          node,
          node.modifiers,
          node.isTypeOnly,
          node.exportClause,
          spec,
          node.attributes,
        );
      }
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      const spec = literal(node.argument.literal as ts.Expression);
      if (spec) {
        return f.updateImportTypeNode(
          node,
          f.createLiteralTypeNode(spec),
          node.attributes,
          node.qualifier,
          node.typeArguments?.map((t) => ts.visitNode(t, visit) as ts.TypeNode),
          node.isTypeOf,
        );
      }
    }
    return ts.visitEachChild(node, visit, context);
  };
  return (node) => ts.isSourceFile(node) ? ts.visitEachChild(node, visit, context) : node;
}

/** True if any diagnostic is an error. */
export function hasErrors(diagnostics: readonly ts.Diagnostic[]): boolean {
  return diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error);
}

/** `path` relative to the repository root, for messages. */
export function rel(path: string): string {
  return relative(ROOT, path) || ".";
}

/** Options of `run`. */
export interface RunOptions {
  /** Working directory; default the repository root. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Kill the process after this many milliseconds; default no limit. */
  timeoutMs?: number;
  /** Capture stdout instead of passing it through; default false. */
  captureStdout?: boolean;
}

/** What `run` returns. */
export interface RunResult {
  /** Exit code (non-zero also when killed by a signal or the timeout). */
  code: number;
  /** Captured stdout (empty unless `captureStdout`). */
  stdout: string;
  /** True if the timeout killed the process. */
  timedOut: boolean;
}

/**
 * Runs a command, passing stderr (and stdout unless captured) through.
 *
 * @param cmd The program.
 * @param args Its arguments and options.
 * @returns The exit code and captured output.
 */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  try {
    const child = new Deno.Command(cmd, {
      args,
      cwd: options.cwd ?? ROOT,
      env: options.env,
      stdin: "null",
      stdout: options.captureStdout ? "piped" : "inherit",
      stderr: "inherit",
      signal: controller.signal,
    }).spawn();
    const out = await child.output();
    const code = out.success ? 0 : (out.code === 0 ? 1 : out.code);
    const stdout = options.captureStdout ? new TextDecoder().decode(out.stdout) : "";
    if (timedOut) error(`${cmd} ${args.join(" ")} timed out after ${options.timeoutMs} ms`);
    return { code, stdout, timedOut };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Runs a command and throws if it fails. */
export async function runOrThrow(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed with exit code ${result.code}`);
  }
  return result.stdout;
}

/** Formats a duration in seconds. */
export function seconds(startMs: number): string {
  return `${((performance.now() - startMs) / 1000).toFixed(1)} s`;
}

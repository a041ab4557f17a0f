import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/**
 * A small renderer for the subset of Helm's template language the LlmEndpoint chart uses, so
 * tests and `npm run k8s:manifest` render the chart without a `helm` binary (none is on npm or in
 * Debian; deploy/helm/llmendpoint/README.md, "Rendering without helm").
 *
 * Go text/template: text, `{{ }}` actions with `{{-`/`-}}` trimming, comments, pipelines with `|`,
 * parentheses, fields (`.Values.a.b`), variables (`$`, `$x := …`, `$x = …`), literals, `if` /
 * `else if` / `else`, `with`, `range` (lists, maps in key order, `$k, $v :=`), `define`,
 * `template`. Functions: Go's and, or, not, eq, ne, lt, le, gt, ge, len, print, printf; Helm's
 * include, required, fail, toYaml, toJson; sprig's default, empty, quote, squote, indent, nindent,
 * trunc, trim, trimSuffix, trimPrefix, contains, replace, lower, upper, toString, join, list, dict, hasKey, add,
 * sub, mul, div, max, min, ternary. Anything else fails loudly: a chart
 * that renders here renders the same in Helm, never the other way round silently.
 */

type Value = unknown;
type Dict = Record<string, Value>;

export interface Release {
  Name: string;
  Namespace: string;
  Service?: string;
  IsInstall?: boolean;
  IsUpgrade?: boolean;
  Revision?: number;
}

export interface RenderedFile {
  /** Path inside the chart, e.g. `templates/api-deployment.yaml`. */
  source: string;
  text: string;
}

// ---------------------------------------------------------------- lexing

type Segment = { kind: 'text'; text: string } | { kind: 'action'; code: string; line: number };

const TRIM_WS = /[ \t\r\n]+$/;
const LEAD_WS = /^[ \t\r\n]+/;

/** Splits a template into text and action segments, applying `{{-` and `-}}` trimming. */
function segments(source: string, name: string): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    let text = source.slice(pos, open === -1 ? undefined : open);
    if (trimNext) text = text.replace(LEAD_WS, '');
    if (open === -1) {
      if (text) out.push({ kind: 'text', text });
      break;
    }
    let start = open + 2;
    const trimLeft = /^-[ \t\r\n]/.test(source.slice(start, start + 2));
    if (trimLeft) {
      text = text.replace(TRIM_WS, '');
      start += 2;
    }
    if (text) out.push({ kind: 'text', text });
    const close = findClose(source, start, name);
    let end = close;
    trimNext = /[ \t\r\n]-$/.test(source.slice(close - 2, close));
    if (trimNext) end -= 2;
    const code = source.slice(start, end).trim();
    const line = source.slice(0, open).split('\n').length;
    if (!(code.startsWith('/*') && code.endsWith('*/'))) out.push({ kind: 'action', code, line });
    pos = close + 2;
  }
  return out;
}

/** The `}}` closing an action, skipping string literals (a `}}` may sit inside one). */
function findClose(source: string, from: number, name: string): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (c === '"' || c === '`') {
      const quote = c;
      i++;
      while (i < source.length && source[i] !== quote) i += source[i] === '\\' && quote === '"' ? 2 : 1;
    } else if (c === '}' && source[i + 1] === '}') return i;
    i++;
  }
  throw new Error(`${name}: unclosed action`);
}

type Token =
  | { t: 'field'; path: string[] }
  | { t: 'var'; name: string; path: string[] }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'ident'; v: string }
  | { t: 'op'; v: '|' | '(' | ')' | ':=' | '=' | ',' }
  | { t: 'dotpath'; path: string[] };

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const FIELDS = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/;

function tokenize(code: string, where: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < code.length) {
    const rest = code.slice(i);
    const c = code[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < code.length && code[j] !== '"') j += code[j] === '\\' ? 2 : 1;
      out.push({ t: 'str', v: JSON.parse(code.slice(i, j + 1)) as string });
      i = j + 1;
    } else if (c === '`') {
      const j = code.indexOf('`', i + 1);
      out.push({ t: 'str', v: code.slice(i + 1, j) });
      i = j + 1;
    } else if (rest.startsWith(':=')) {
      out.push({ t: 'op', v: ':=' });
      i += 2;
    } else if ('|(),='.includes(c)) {
      out.push({ t: 'op', v: c as '|' });
      i++;
    } else if (c === '$') {
      const m = /^\$([A-Za-z0-9_]*)/.exec(rest) as RegExpExecArray;
      const fields = FIELDS.exec(rest.slice(m[0].length));
      out.push({ t: 'var', name: m[1] as string, path: fields ? fields[0].slice(1).split('.') : [] });
      i += m[0].length + (fields ? fields[0].length : 0);
    } else if (c === '.') {
      const fields = FIELDS.exec(rest);
      // `.Field` right after `)` (no space) is a field of the parenthesized value.
      const path = fields ? fields[0].slice(1).split('.') : [];
      if (code[i - 1] === ')' && fields) out.push({ t: 'dotpath', path });
      else out.push({ t: 'field', path });
      i += fields ? fields[0].length : 1;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?[0-9]+(?:\.[0-9]+)?/.exec(rest);
      if (!m) throw new Error(`${where}: bad number in ${code}`);
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else {
      const m = IDENT.exec(rest);
      if (!m) throw new Error(`${where}: unexpected "${c}" in {{ ${code} }}`);
      out.push({ t: 'ident', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

// ---------------------------------------------------------------- parsing

type Operand =
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'lit'; v: Value }
  | { k: 'call'; fn: string; args: Operand[] }
  | { k: 'sub'; pipe: Pipeline; path: string[] };

interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  cmds: Operand[][];
}

type Node =
  | { n: 'text'; text: string }
  | { n: 'out'; pipe: Pipeline; where: string }
  | { n: 'if'; branches: { cond: Pipeline; body: Node[] }[]; otherwise: Node[]; where: string }
  | { n: 'with'; pipe: Pipeline; body: Node[]; otherwise: Node[]; where: string }
  | { n: 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[]; where: string }
  | { n: 'template'; name: string; pipe?: Pipeline; where: string };

function parsePipeline(tokens: Token[], where: string): Pipeline {
  let pos = 0;
  const pipe: Pipeline = { cmds: [] };
  const declEnd = tokens.findIndex((t) => t.t === 'op' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => t.t === 'var' || (t.t === 'op' && t.v === ','))) {
    const names = tokens.slice(0, declEnd).flatMap((t) => (t.t === 'var' ? [t.name] : []));
    pipe.decl = { names, assign: (tokens[declEnd] as { v: string }).v === '=' };
    pos = declEnd + 1;
  }
  const parseCommand = (): Operand[] => {
    const ops: Operand[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos] as Token;
      if (tok.t === 'op' && (tok.v === '|' || tok.v === ')')) break;
      pos++;
      if (tok.t === 'field') ops.push({ k: 'field', path: tok.path });
      else if (tok.t === 'var') ops.push({ k: 'var', name: tok.name, path: tok.path });
      else if (tok.t === 'str' || tok.t === 'num') ops.push({ k: 'lit', v: tok.v });
      else if (tok.t === 'ident') {
        if (tok.v === 'true' || tok.v === 'false') ops.push({ k: 'lit', v: tok.v === 'true' });
        else if (tok.v === 'nil') ops.push({ k: 'lit', v: null });
        else ops.push({ k: 'call', fn: tok.v, args: [] });
      } else if (tok.t === 'op' && tok.v === '(') {
        const sub = parseInner();
        const close = tokens[pos++];
        if (!close || close.t !== 'op' || close.v !== ')') throw new Error(`${where}: missing )`);
        const next = tokens[pos];
        const path = next && next.t === 'dotpath' ? (pos++, next.path) : [];
        ops.push({ k: 'sub', pipe: sub, path });
      } else throw new Error(`${where}: unexpected token ${JSON.stringify(tok)}`);
    }
    if (ops.length === 0) throw new Error(`${where}: empty command`);
    // A function name first: the rest are its arguments.
    const [head, ...rest] = ops as [Operand, ...Operand[]];
    if (head.k === 'call') return [{ k: 'call', fn: head.fn, args: rest }];
    if (rest.length > 0) throw new Error(`${where}: ${JSON.stringify(head)} is not a function`);
    return [head];
  };
  const parseInner = (): Pipeline => {
    const inner: Pipeline = { cmds: [parseCommand()] };
    while (
      pos < tokens.length &&
      (tokens[pos] as Token).t === 'op' &&
      (tokens[pos] as { v: string }).v === '|'
    ) {
      pos++;
      inner.cmds.push(parseCommand());
    }
    return inner;
  };
  const body = parseInner();
  if (pos !== tokens.length) throw new Error(`${where}: unexpected ${JSON.stringify(tokens[pos])}`);
  pipe.cmds = body.cmds;
  return pipe;
}

function parseTemplate(source: string, name: string, defines: Map<string, Node[]>): Node[] {
  const segs = segments(source, name);
  let i = 0;
  const parseList = (stopAt: string[]): { nodes: Node[]; stop: string; stopCode: string } => {
    const nodes: Node[] = [];
    while (i < segs.length) {
      const seg = segs[i++] as Segment;
      if (seg.kind === 'text') {
        nodes.push({ n: 'text', text: seg.text });
        continue;
      }
      const where = `${name}:${seg.line}`;
      const word = /^[a-z]+/.exec(seg.code)?.[0] ?? '';
      const rest = seg.code.slice(word.length).trim();
      if (stopAt.includes(word)) return { nodes, stop: word, stopCode: rest };
      if (word === 'end' || word === 'else') throw new Error(`${where}: unexpected {{ ${seg.code} }}`);
      if (word === 'if') {
        const branches = [{ cond: parsePipeline(tokenize(rest, where), where), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const part = parseList(['else', 'end']);
          (branches[branches.length - 1] as { body: Node[] }).body = part.nodes;
          if (part.stop === 'end') break;
          if (part.stopCode.startsWith('if ')) {
            branches.push({ cond: parsePipeline(tokenize(part.stopCode.slice(3), where), where), body: [] });
            continue;
          }
          otherwise = parseList(['end']).nodes;
          break;
        }
        nodes.push({ n: 'if', branches, otherwise, where });
      } else if (word === 'with' || word === 'range') {
        const pipe = parsePipeline(tokenize(rest, where), where);
        const part = parseList(['else', 'end']);
        const otherwise = part.stop === 'else' ? parseList(['end']).nodes : [];
        nodes.push({ n: word, pipe, body: part.nodes, otherwise, where });
      } else if (word === 'define') {
        const defName = JSON.parse(rest) as string;
        defines.set(defName, parseList(['end']).nodes);
      } else if (word === 'template') {
        const m = /^"([^"]+)"\s*(.*)$/.exec(rest);
        if (!m) throw new Error(`${where}: bad template call`);
        const pipe = m[2] ? parsePipeline(tokenize(m[2], where), where) : undefined;
        nodes.push({ n: 'template', name: m[1] as string, pipe, where });
      } else {
        nodes.push({ n: 'out', pipe: parsePipeline(tokenize(seg.code, where), where), where });
      }
    }
    if (stopAt.length > 0) throw new Error(`${name}: missing {{ end }}`);
    return { nodes, stop: '', stopCode: '' };
  };
  return parseList([]).nodes;
}

// ---------------------------------------------------------------- evaluation

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(private readonly parent?: Scope) {}
  get(name: string, where: string): Value {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name, where);
    throw new Error(`${where}: undefined variable $${name}`);
  }
  declare(name: string, value: Value): void {
    this.vars.set(name, value);
  }
  assign(name: string, value: Value, where: string): void {
    if (this.vars.has(name)) this.vars.set(name, value);
    else if (this.parent) this.parent.assign(name, value, where);
    else throw new Error(`${where}: undefined variable $${name}`);
  }
}

function isDict(v: Value): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isDict(v)) return Object.keys(v).length > 0;
  return true;
}

/**
 * Go's %v of a float64 (Helm reads every number in values as float64): shortest digits, exponent
 * form from 1e6 (so 1000000 prints as 1e+06 in Helm: keep such values strings in values.yaml).
 */
function goNumber(n: number): string {
  if (n === 0) return '0';
  const [mant, e] = n.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

/** Integers Go computes as int64 (len, add, div, …) are bigints here: they print without exponent. */
function print(v: Value, where: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new Error(`${where}: printing a ${Array.isArray(v) ? 'list' : 'map'}: use toYaml`);
}

function toInt(v: Value, where: string): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === undefined || v === null) return 0;
  throw new Error(`${where}: not a number: ${JSON.stringify(v)}`);
}

function toYamlText(v: Value): string {
  if (v === undefined || v === null) return 'null';
  return stringifyYaml(v, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, '');
}

function indentText(spaces: number, text: string): string {
  const pad = ' '.repeat(spaces);
  return pad + text.replace(/\n/g, `\n${pad}`);
}

function goSprintf(format: string, args: Value[], where: string): string {
  let i = 0;
  return format.replace(/%([%sdvq])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const arg = args[i++];
    if (verb === 'q') return JSON.stringify(typeof arg === 'string' ? arg : print(arg, where));
    if (verb === 'd') return String(toInt(arg, where));
    return print(arg, where);
  });
}

function sameValue(a: Value, b: Value): boolean {
  if (typeof a === 'bigint' || typeof b === 'bigint') return Number(a) === Number(b);
  return a === b || ((a === undefined || a === null) && (b === undefined || b === null));
}

export class ChartRenderer {
  private readonly defines = new Map<string, Node[]>();
  private readonly files: { source: string; nodes: Node[] }[] = [];

  constructor(private readonly chartDir: string) {
    const dir = join(chartDir, 'templates');
    for (const file of readdirSync(dir).sort()) {
      if (!/\.(ya?ml|tpl)$/.test(file)) continue;
      const source = `templates/${file}`;
      const nodes = parseTemplate(readFileSync(join(dir, file), 'utf8'), source, this.defines);
      // Files starting with `_` only define templates (Helm renders no output for them).
      if (!file.startsWith('_')) this.files.push({ source, nodes });
    }
  }

  /** Values: the chart's values.yaml, deep-merged with `overrides` (maps merge, null removes a key). */
  values(overrides: Dict = {}): Dict {
    const defaults = parseYaml(readFileSync(join(this.chartDir, 'values.yaml'), 'utf8')) as Dict;
    return mergeValues(defaults, overrides);
  }

  chart(): Dict {
    const meta = parseYaml(readFileSync(join(this.chartDir, 'Chart.yaml'), 'utf8')) as Dict;
    return {
      Name: meta.name,
      Version: meta.version,
      AppVersion: meta.appVersion,
      Description: meta.description,
    };
  }

  /** Every template's output, as `helm template` prints them (files rendering to blanks left out). */
  render(release: Release, overrides: Dict = {}): RenderedFile[] {
    const top: Dict = {
      Values: this.values(overrides),
      Release: { Service: 'Helm', IsInstall: true, IsUpgrade: false, Revision: 1, ...release },
      Chart: this.chart(),
      Capabilities: { KubeVersion: { Version: 'v1.30.0', Major: '1', Minor: '30' } },
    };
    const out: RenderedFile[] = [];
    for (const file of this.files) {
      const text = this.exec(file.nodes, { ...top, Template: { Name: file.source } }, top, new Scope());
      if (text.trim()) out.push({ source: file.source, text });
    }
    return out;
  }

  private exec(nodes: Node[], dot: Value, root: Value, scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      switch (node.n) {
        case 'text':
          out += node.text;
          break;
        case 'out': {
          const v = this.pipeline(node.pipe, dot, root, scope, node.where);
          if (!node.pipe.decl) out += print(v, node.where);
          break;
        }
        case 'if': {
          const inner = new Scope(scope);
          const branch = node.branches.find((b) =>
            truthy(this.pipeline(b.cond, dot, root, inner, node.where)),
          );
          out += this.exec(branch ? branch.body : node.otherwise, dot, root, inner);
          break;
        }
        case 'with': {
          const inner = new Scope(scope);
          const v = this.pipeline(node.pipe, dot, root, inner, node.where);
          out += truthy(v)
            ? this.exec(node.body, v, root, inner)
            : this.exec(node.otherwise, dot, root, inner);
          break;
        }
        case 'range': {
          const inner = new Scope(scope);
          const names = node.pipe.decl?.names ?? [];
          const v = this.pipeline({ cmds: node.pipe.cmds }, dot, root, inner, node.where);
          const entries: [Value, Value][] = Array.isArray(v)
            ? v.map((item, index) => [index, item])
            : isDict(v)
              ? Object.keys(v)
                  .sort()
                  .map((k) => [k, v[k]])
              : v === undefined || v === null
                ? []
                : (() => {
                    throw new Error(`${node.where}: range over ${typeof v}`);
                  })();
          if (entries.length === 0) out += this.exec(node.otherwise, dot, root, inner);
          for (const [key, item] of entries) {
            const each = new Scope(inner);
            if (names.length === 1) each.declare(names[0] as string, item);
            if (names.length === 2) {
              each.declare(names[0] as string, key);
              each.declare(names[1] as string, item);
            }
            out += this.exec(node.body, item, root, each);
          }
          break;
        }
        case 'template': {
          const arg = node.pipe ? this.pipeline(node.pipe, dot, root, scope, node.where) : null;
          out += this.include(node.name, arg, node.where);
          break;
        }
      }
    }
    return out;
  }

  private include(name: string, arg: Value, where: string): string {
    const body = this.defines.get(name);
    if (!body) throw new Error(`${where}: no template "${name}"`);
    return this.exec(body, arg, arg, new Scope());
  }

  private pipeline(pipe: Pipeline, dot: Value, root: Value, scope: Scope, where: string): Value {
    let value: Value;
    let piped = false;
    for (const cmd of pipe.cmds) {
      const op = cmd[0] as Operand;
      if (op.k === 'call') {
        const input = value;
        const thunks = op.args.map((a) => () => this.operand(a, dot, root, scope, where));
        if (piped) thunks.push(() => input);
        value = this.call(op.fn, thunks, where);
      } else {
        if (piped) throw new Error(`${where}: cannot pipe into a non-function`);
        value = this.operand(op, dot, root, scope, where);
      }
      piped = true;
    }
    if (pipe.decl) {
      const name = pipe.decl.names[0] as string;
      if (pipe.decl.assign) scope.assign(name, value, where);
      else scope.declare(name, value);
    }
    return value;
  }

  private operand(op: Operand, dot: Value, root: Value, scope: Scope, where: string): Value {
    switch (op.k) {
      case 'lit':
        return op.v;
      case 'field':
        return walk(dot, op.path, where);
      case 'var':
        return walk(op.name === '' ? root : scope.get(op.name, where), op.path, where);
      case 'sub':
        return walk(this.pipeline(op.pipe, dot, root, scope, where), op.path, where);
      case 'call':
        return this.call(
          op.fn,
          op.args.map((a) => () => this.operand(a, dot, root, scope, where)),
          where,
        );
    }
  }

  /** Arguments come as thunks: `and` and `or` stop at the first deciding one, as Go's do. */
  private call(fn: string, thunks: (() => Value)[], where: string): Value {
    if (fn === 'and' || fn === 'or') {
      let v: Value = fn === 'and';
      for (const thunk of thunks) {
        v = thunk();
        if (truthy(v) !== (fn === 'and')) return v;
      }
      return v;
    }
    const args = thunks.map((t) => t());
    const s = (v: Value) => (typeof v === 'string' ? v : print(v, where));
    const int = (v: number) => BigInt(v);
    switch (fn) {
      case 'not':
        return !truthy(args[0]);
      case 'eq':
        return args.slice(1).some((b) => sameValue(args[0], b));
      case 'ne':
        return !sameValue(args[0], args[1]);
      case 'lt':
        return Number(args[0]) < Number(args[1]);
      case 'le':
        return Number(args[0]) <= Number(args[1]);
      case 'gt':
        return Number(args[0]) > Number(args[1]);
      case 'ge':
        return Number(args[0]) >= Number(args[1]);
      case 'len': {
        const v = args[0];
        return int(
          typeof v === 'string' || Array.isArray(v) ? v.length : isDict(v) ? Object.keys(v).length : 0,
        );
      }
      case 'print':
        return args.map(s).join('');
      case 'printf':
        return goSprintf(s(args[0]), args.slice(1), where);
      case 'include':
        return this.include(s(args[0]), args[1], where);
      case 'required':
        if (args[1] === undefined || args[1] === null || args[1] === '')
          throw new Error(`${where}: ${s(args[0])}`);
        return args[1];
      case 'fail':
        throw new Error(`${where}: ${s(args[0])}`);
      case 'toYaml':
        return toYamlText(args[0]);
      case 'toJson':
        return JSON.stringify(args[0] ?? null);
      case 'default':
        return args.length < 2 || !truthy(args[1]) ? args[0] : args[1];
      case 'empty':
        return !truthy(args[0]);
      case 'quote':
        return args
          .filter((a) => a !== undefined && a !== null)
          .map((a) => JSON.stringify(s(a)))
          .join(' ');
      case 'squote':
        return args.map((a) => `'${s(a)}'`).join(' ');
      case 'indent':
        return indentText(toInt(args[0], where), s(args[1]));
      case 'nindent':
        return '\n' + indentText(toInt(args[0], where), s(args[1]));
      case 'trunc':
        return s(args[1]).slice(0, toInt(args[0], where));
      case 'trimSuffix': {
        const v = s(args[1]);
        const suffix = s(args[0]);
        return suffix && v.endsWith(suffix) ? v.slice(0, -suffix.length) : v;
      }
      case 'trimPrefix': {
        const v = s(args[1]);
        return v.startsWith(s(args[0])) ? v.slice(s(args[0]).length) : v;
      }
      case 'replace':
        return s(args[2]).split(s(args[0])).join(s(args[1]));
      case 'contains':
        return s(args[1]).includes(s(args[0]));
      case 'trim':
        return s(args[0]).trim();
      case 'lower':
        return s(args[0]).toLowerCase();
      case 'upper':
        return s(args[0]).toUpperCase();
      case 'toString':
        return s(args[0]);
      case 'join':
        return ((args[1] as Value[] | undefined) ?? []).map(s).join(s(args[0]));
      case 'list':
        return [...args];
      case 'dict': {
        const d: Dict = {};
        for (let i = 0; i + 1 < args.length; i += 2) d[s(args[i])] = args[i + 1];
        return d;
      }
      case 'hasKey':
        return isDict(args[0]) && Object.prototype.hasOwnProperty.call(args[0], s(args[1]));
      case 'add':
        return int(args.reduce<number>((a, b) => a + toInt(b, where), 0));
      case 'sub':
        return int(toInt(args[0], where) - toInt(args[1], where));
      case 'mul':
        return int(args.reduce<number>((a, b) => a * toInt(b, where), 1));
      case 'div':
        return int(Math.trunc(toInt(args[0], where) / toInt(args[1], where)));
      case 'max':
        return int(Math.max(...args.map((a) => toInt(a, where))));
      case 'min':
        return int(Math.min(...args.map((a) => toInt(a, where))));
      case 'ternary':
        return truthy(args[2]) ? args[0] : args[1];
      default:
        throw new Error(`${where}: function "${fn}" is not supported by deploy/tools/helm-template.ts`);
    }
  }
}

function walk(value: Value, path: string[], where: string): Value {
  let v = value;
  for (const key of path) {
    if (v === undefined || v === null) throw new Error(`${where}: nil pointer evaluating .${path.join('.')}`);
    if (!isDict(v)) throw new Error(`${where}: can't evaluate field ${key} in ${typeof v}`);
    v = v[key];
  }
  return v;
}

/** Helm's coalescing of user values over the chart's defaults. */
export function mergeValues(base: Dict, over: Dict): Dict {
  const out: Dict = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else if (isDict(value) && isDict(out[key])) out[key] = mergeValues(out[key], value);
    else out[key] = value;
  }
  return out;
}

/** The rendered files as one multi-document YAML stream, like `helm template` prints it. */
export function toStream(chartName: string, files: RenderedFile[]): string {
  return files
    .map((f) => `---\n# Source: ${chartName}/${f.source}\n${f.text.replace(/^\n+/, '')}`)
    .join('\n');
}

/** Every Kubernetes object in the rendered files (empty documents dropped). */
export function manifests(files: RenderedFile[]): Dict[] {
  const docs: Dict[] = [];
  for (const file of files)
    for (const part of file.text.split(/^---\s*$/m)) {
      const doc = parseYaml(part) as Dict | null;
      if (doc) docs.push(doc);
    }
  return docs;
}

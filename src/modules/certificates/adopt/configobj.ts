/**
 * The subset of ConfigObj (the INI dialect certbot writes its renewal/<name>.conf in) that certbot uses:
 * `key = value` lines, `[section]` and `[[subsection]]` headers, `#` comments, quoted values and
 * comma lists (`a, b,` — a trailing comma makes a one-item list).
 */

export type ConfigObjValue = string | string[];

export interface ConfigObjSection {
  values: Record<string, ConfigObjValue>;
  sections: Record<string, ConfigObjSection>;
}

export class ConfigObjError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
    this.name = 'ConfigObjError';
  }
}

function unquote(text: string): string {
  const quoted = /^(["'])(.*)\1$/.exec(text);
  return quoted ? quoted[2]! : text;
}

/** A value without its trailing comment; a list when it has an unquoted comma. */
function parseValue(raw: string): ConfigObjValue {
  let text = raw;
  const comment = /^((?:[^#"']|"[^"]*"|'[^']*')*?)\s+#.*$/.exec(text);
  if (comment) text = comment[1]!;
  text = text.trim();
  if (!/^(?:[^,"']|"[^"]*"|'[^']*')*,/.test(text)) return unquote(text);
  return text
    .split(/,(?=(?:[^"']|"[^"]*"|'[^']*')*$)/)
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map(unquote);
}

export function parseConfigObj(text: string, file: string): ConfigObjSection {
  const root: ConfigObjSection = { values: {}, sections: {} };
  const stack: ConfigObjSection[] = [root];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    const lineNo = index + 1;
    if (line === '' || line.startsWith('#')) return;
    const header = /^(\[+)\s*([^\]]+?)\s*(\]+)\s*(#.*)?$/.exec(line);
    if (header) {
      const depth = header[1]!.length;
      if (depth !== header[3]!.length) throw new ConfigObjError(file, lineNo, `unbalanced brackets in section header '${line}'`);
      if (depth > stack.length) throw new ConfigObjError(file, lineNo, `section '${header[2]}' is nested ${depth} deep under a section ${stack.length - 1} deep`);
      stack.length = depth;
      const section: ConfigObjSection = { values: {}, sections: {} };
      stack[depth - 1]!.sections[header[2]!] = section;
      stack.push(section);
      return;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!pair) throw new ConfigObjError(file, lineNo, `expected 'key = value' or a [section], found '${line}'`);
    stack[stack.length - 1]!.values[pair[1]!] = parseValue(pair[2]!);
  });
  return root;
}

/** The value as one string (the first of a list), or undefined. */
export function scalar(section: ConfigObjSection | undefined, key: string): string | undefined {
  const value = section?.values[key];
  return Array.isArray(value) ? value[0] : value;
}

export function list(section: ConfigObjSection | undefined, key: string): string[] {
  const value = section?.values[key];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** ConfigObj's booleans: true/yes/on/1 and false/no/off/0, any case. */
export function bool(section: ConfigObjSection | undefined, key: string): boolean | undefined {
  const value = scalar(section, key)?.toLowerCase();
  if (value === undefined) return undefined;
  if (['true', 'yes', 'on', '1'].includes(value)) return true;
  if (['false', 'no', 'off', '0'].includes(value)) return false;
  return undefined;
}

/**
 * The text with `key = value` set in the top-level `[section]` (replaced where it is, or added as the
 * section's first line), every other byte kept: certbot's file stays certbot's.
 */
export function setInSection(text: string, sectionName: string, key: string, value: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\s*\\[\\s*${sectionName}\\s*\\]\\s*(#.*)?$`).test(l));
  if (start === -1) return `${text.replace(/\n?$/, '\n')}[${sectionName}]\n${key} = ${value}\n`;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    if (/^\s*\[/.test(lines[i]!)) {
      end = i;
      break;
    }
  }
  const keyLine = new RegExp(`^\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);
  for (let i = start + 1; i < end; i++) {
    if (keyLine.test(lines[i]!)) {
      lines[i] = `${key} = ${value}`;
      return lines.join('\n');
    }
  }
  lines.splice(start + 1, 0, `${key} = ${value}`);
  return lines.join('\n');
}

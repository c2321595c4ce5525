// The environment systemd/caretaker.service gives the daemon (its Environment= lines), so the benches run
// the agent as it is installed: the unit's NODE_OPTIONS and allocator settings change its RSS by tens of MiB.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const UNIT = fileURLToPath(new URL('../systemd/caretaker.service', import.meta.url));

/**
 * NAME=VALUE assignments of one Environment= value: separated by spaces, quoted parts ("..." or '...', the
 * whole assignment or part of it) keep their spaces (systemd.exec(5)); specifiers (%h...) and backslash
 * escapes are not used by the unit and not expanded.
 */
function assignments(value) {
  const words = value.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  return words
    .map((word) => word.replace(/"([^"]*)"|'([^']*)'/g, (_, double, single) => double ?? single))
    .map((word) => word.split(/=(.*)/s, 2))
    .filter(([name, rest]) => name && rest !== undefined);
}

/** The unit's Environment= variables, later lines overriding earlier ones, as systemd applies them. */
export function unitEnvironment(unitText = readFileSync(UNIT, 'utf8')) {
  const env = {};
  for (const [, value] of unitText.matchAll(/^Environment=(.*)$/gm)) {
    for (const [name, rest] of assignments(value)) env[name] = rest;
  }
  return env;
}

/**
 * The caller's environment without Node's own variables: systemd starts the daemon with none, and a shell's
 * NODE_OPTIONS or NODE_EXTRA_CA_CERTS (about 1 MiB of parsed certificates) would change what is measured.
 */
export function baseEnvironment() {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('NODE_')));
}

/**
 * The agent's environment for a bench: baseEnvironment() plus the unit's Environment= lines plus `overrides`
 * (NAME=VALUE strings from a bench's --env, to try a setting before the unit has it).
 */
export function agentEnvironment(overrides = []) {
  const env = { ...baseEnvironment(), ...unitEnvironment() };
  for (const override of overrides) {
    const at = override.indexOf('=');
    if (at < 1) throw new Error(`not NAME=VALUE: ${override}`);
    env[override.slice(0, at)] = override.slice(at + 1);
  }
  return env;
}

/** One line saying which unit variables (and overrides) the agent ran with, for the bench's report. */
export function describeEnvironment(overrides = []) {
  const unit = unitEnvironment();
  const names = [...new Set([...Object.keys(unit), ...overrides.map((o) => o.split('=')[0])])];
  const env = agentEnvironment(overrides);
  return names.map((name) => `${name}=${env[name]}`).join(' ');
}

/**
 * A syntax check for node-cron expressions, so a typo in daemon.schedule fails at load time
 * rather than when the daemon starts. Returns the problem, or null when the expression is fine.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

function value(token: string, field: Field): number | null {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= field.min && n <= field.max ? n : null;
  }
  const lower = token.toLowerCase();
  // node-cron takes "jan" and "january", "mon" and "monday".
  const index = field.names?.findIndex((n) => lower === n || (lower.length > 3 && lower.startsWith(n))) ?? -1;
  if (index < 0) return null;
  return field.names === MONTHS ? index + 1 : index;
}

function checkField(text: string, field: Field): string | null {
  for (const item of text.split(',')) {
    const [range = '', step, extra] = item.split('/');
    if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return `bad step in "${item}"`;
    if (range === '*') continue;
    const [from = '', to, more] = range.split('-');
    if (more !== undefined) return `bad range "${range}"`;
    const a = value(from, field);
    const b = to === undefined ? a : value(to, field);
    if (a === null || b === null) {
      return `"${item}" is out of range; expected ${field.min}-${field.max}${field.names ? ' or a name' : ''}`;
    }
    if (a > b) return `range "${range}" runs backwards`;
  }
  return null;
}

export function cronProblem(expr: string): string | null {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first), got ${parts.length}`;
  }
  const fields = parts.length === 6 ? FIELDS : FIELDS.slice(1);
  for (const [i, part] of parts.entries()) {
    const field = fields[i] as Field;
    const problem = checkField(part, field);
    if (problem) return `${field.name} field: ${problem}`;
  }
  return null;
}

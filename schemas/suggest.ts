// "Did you mean …?" for names a user typed: model names, config and manifest keys, visitor and
// protocol keys, property names. A name is suggested when it is a few edits away (optimal string
// alignment distance: insert, delete, substitute, swap two neighbours) or when one name is a
// prefix of the other. Inputs are short names (≤ 253 characters), and the distance stops early
// once it exceeds its bound, so this stays cheap even against a few thousand candidates.

/** Longest name compared; longer ones (never a real key) are not suggested for. */
const MAX_LENGTH = 256;

/**
 * Optimal string alignment distance between `a` and `b`, or `limit + 1` as soon as it is known
 * to exceed `limit` (rows whose minimum is over the limit end the loop).
 */
export function editDistance(a: string, b: string, limit = Number.MAX_SAFE_INTEGER): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  if (a === b) return 0;
  let prev2: number[] = [];
  let prev: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row: number[] = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1);
      row.push(d);
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] as number;
}

/** Edits allowed between names this long: 1 below 5 characters (two edits turn `ip` into anything short), else 2. */
function allowedEdits(length: number): number {
  return length < 5 ? 1 : 2;
}

/**
 * The candidate `word` most likely stands for, or undefined. Case is ignored when comparing
 * (`SlaveID` → `slaveID`); an exact match is no suggestion. Ties go to the first candidate.
 */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length === 0 || word.length > MAX_LENGTH) return undefined;
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestScore = Number.MAX_SAFE_INTEGER;
  for (const candidate of candidates) {
    if (candidate === word || candidate.length > MAX_LENGTH) continue;
    const c = candidate.toLowerCase();
    // A case-only difference is the best match there is.
    let score = c === lower ? 0 : editDistance(lower, c, allowedEdits(Math.min(lower.length, c.length)));
    if (score > allowedEdits(Math.min(lower.length, c.length))) {
      // A prefix (`temp` for `temperature`, `setpointValue` for `setpoint`) of at least 3 characters.
      const prefix = Math.min(lower.length, c.length) >= 3 && (c.startsWith(lower) || lower.startsWith(c));
      if (!prefix) continue;
      score = 3;
    }
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

/** `; did you mean "x"?` to append to a message, or "" when nothing is close. */
export function suggestion(word: string, candidates: Iterable<string>): string {
  const match = didYouMean(word, candidates);
  return match === undefined ? '' : `; did you mean "${match}"?`;
}

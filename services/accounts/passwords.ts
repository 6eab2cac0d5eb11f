/**
 * Password hashing with argon2id (@node-rs/argon2: a maintained Rust binding that ships prebuilt
 * binaries as per-platform npm packages, so it installs offline with no compiler and no install
 * script). Parameters are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane): about 20-40 ms
 * a hash on this kind of machine.
 */
import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id of the binding, a const enum that isolated modules cannot read.
const ARGON2ID = 2;

const PARAMETERS = { algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 10;
/** Long enough for any passphrase, short enough that hashing one cannot tie up a core. */
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMETERS);
}

/** False for a wrong password and for a hash that is not a valid argon2 string alike. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let decoy: Promise<string> | undefined;

/**
 * A hash of a random password, verified when the email is unknown so that a sign-in for an
 * unknown address costs the same argon2 work as a wrong password: timing tells nothing.
 */
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(`decoy-${Math.random()}-${Date.now()}`);
  return decoy;
}

import { randomInt } from 'node:crypto';

// No 0/O, 1/I/L: easy to read aloud and to type on a phone. 31 symbols × 20 = ~99 bits of entropy.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
const GROUPS = 5;
const GROUP_LEN = 4;

/** A fresh activation password such as `7KQ3-M9XD-2HPT-RW4C-VB6N`. */
export function generateActivationPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let s = '';
    for (let i = 0; i < GROUP_LEN; i++) s += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(s);
  }
  return groups.join('-');
}

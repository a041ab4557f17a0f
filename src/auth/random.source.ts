import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';

/** Randomness behind a class so tests can make key generation deterministic. */
@Injectable()
export class RandomSource {
  bytes(size: number): Buffer {
    return randomBytes(size);
  }
}

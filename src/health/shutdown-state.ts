import { Injectable } from '@nestjs/common';

/** Set when SIGTERM arrived (shutdown.ts): readiness turns 503 while the server still accepts. */
@Injectable()
export class ShutdownState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDrain(): void {
    this.draining = true;
  }
}

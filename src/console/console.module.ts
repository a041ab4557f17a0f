import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';

/** Serves the web console (console/, built into dist/console); off the completion hot path. */
@Module({ controllers: [ConsoleController] })
export class ConsoleModule {}

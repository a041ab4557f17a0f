import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public } from '../auth/auth.decorators';
import { ApiError } from '../common/api-error';
import { CONSOLE_HEADERS, type ConsoleAsset, loadConsoleAssets } from './console-assets';

/**
 * The web console's static files at /console (built by `npm run build`). A path that is no file
 * and has no extension is a client route: it gets index.html (the app routes in the browser).
 * No key needed for the files; the console sends the user's key on its API calls.
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  private readonly assets = loadConsoleAssets();

  @Get()
  index(@Res() res: Response): void {
    this.send(res, this.assets.get('index.html'));
  }

  @Get('*path')
  file(@Param('path') path: string | string[], @Res() res: Response): void {
    const name = Array.isArray(path) ? path.join('/') : path;
    const asset = this.assets.get(name);
    if (asset) return this.send(res, asset);
    const clientRoute = !name.startsWith('assets/') && !/\.[a-z0-9]+$/i.test(name);
    if (!clientRoute) throw new ApiError('not_found', 'No such console file');
    this.send(res, this.assets.get('index.html'));
  }

  private send(res: Response, asset: ConsoleAsset | undefined): void {
    if (!asset) throw new ApiError('not_found', 'The console is not built: run npm run build');
    res.set(CONSOLE_HEADERS);
    res.setHeader('Cache-Control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.type(asset.type).send(asset.body);
  }
}

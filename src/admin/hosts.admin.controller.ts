import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';
import { ApiError } from '../common/api-error';
import { HostsService } from '../hosts/hosts.service';
import { CreateHostDto, DeletedHostResponse, HostResponse, UpdateHostDto } from './dto/hosts.dto';

/** A malformed id is the caller's mistake (400 naming `id`), not a 500 from the database. */
const uuid = new ParseUUIDPipe({
  exceptionFactory: () => new ApiError('invalid_request', 'id: must be a UUID', 'id'),
});

/** Admin API for the GPU host registry (CONTRACT §4): register, list, change, drain, remove. */
@ApiTags('admin')
@ApiBearerAuth('bearer')
@AdminOnly()
@ApiForbiddenResponse({ description: 'The key is not an admin key' })
@Controller('admin')
export class HostsAdminController {
  constructor(private readonly hosts: HostsService) {}

  @Get('hosts')
  @ApiOkResponse({ type: [HostResponse], description: 'Hosts with status, discovered models and load' })
  list(): HostResponse[] {
    return this.hosts.list();
  }

  @Get('hosts/:id')
  @ApiOkResponse({ type: HostResponse })
  @ApiNotFoundResponse()
  get(@Param('id', uuid) id: string): HostResponse {
    return this.hosts.get(id);
  }

  @Post('hosts')
  @ApiCreatedResponse({ type: HostResponse })
  @ApiBadRequestResponse({ description: 'Invalid field (named in the message)' })
  @ApiConflictResponse({ description: 'A host with this name or base_url exists' })
  create(@Body() body: CreateHostDto): Promise<HostResponse> {
    return this.hosts.create(body);
  }

  @Patch('hosts/:id')
  @ApiOkResponse({
    type: HostResponse,
    description: 'Set draining: true to drain, enabled: false to disable',
  })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'A host with this name or base_url exists' })
  update(@Param('id', uuid) id: string, @Body() body: UpdateHostDto): Promise<HostResponse> {
    return this.hosts.update(id, body);
  }

  @Delete('hosts/:id')
  @ApiOkResponse({ type: DeletedHostResponse })
  @ApiNotFoundResponse()
  async remove(@Param('id', uuid) id: string): Promise<DeletedHostResponse> {
    await this.hosts.remove(id);
    return { id, deleted: true };
  }
}

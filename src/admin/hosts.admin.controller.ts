import { Body, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApiController, uuidParam } from './admin-api';

import { HostsService } from '../hosts/hosts.service';
import { CreateHostDto, DeletedHostResponse, HostResponse, UpdateHostDto } from './dto/hosts.dto';
import { ApiErrors } from '../docs/api-errors';

/** Admin API for the GPU host registry (CONTRACT §4): register, list, change, drain, remove. */
@AdminApiController('admin: GPU hosts')
export class HostsAdminController {
  constructor(private readonly hosts: HostsService) {}

  @Get('hosts')
  @ApiOperation({ operationId: 'listHosts', summary: 'GPU hosts with status, discovered models and load' })
  @ApiOkResponse({ type: [HostResponse], description: 'Hosts with status, discovered models and load' })
  list(): HostResponse[] {
    return this.hosts.list();
  }

  @Get('hosts/:id')
  @ApiOperation({ operationId: 'getHost', summary: 'Get a GPU host' })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'Host not found'])
  @ApiOkResponse({ type: HostResponse })
  get(@Param('id', uuidParam) id: string): HostResponse {
    return this.hosts.get(id);
  }

  @Post('hosts')
  @ApiOperation({ operationId: 'createHost', summary: 'Register a GPU host (checked at once)' })
  @ApiErrors(
    'admin',
    ['invalid_request', 'base_url: must be an http(s) URL'],
    ['conflict', 'A host with this name or base_url exists'],
  )
  @ApiCreatedResponse({ type: HostResponse })
  create(@Body() body: CreateHostDto): Promise<HostResponse> {
    return this.hosts.create(body);
  }

  @Patch('hosts/:id')
  @ApiOperation({
    operationId: 'updateHost',
    summary: 'Change a GPU host (enable, drain, weight, models, …)',
  })
  @ApiErrors(
    'admin',
    ['invalid_request', 'weight: weight must not be less than 1'],
    ['not_found', 'Host not found'],
    ['conflict', 'A host with this name or base_url exists'],
  )
  @ApiOkResponse({
    type: HostResponse,
    description: 'Set draining: true to drain, enabled: false to disable',
  })
  update(@Param('id', uuidParam) id: string, @Body() body: UpdateHostDto): Promise<HostResponse> {
    return this.hosts.update(id, body);
  }

  @Delete('hosts/:id')
  @ApiOperation({ operationId: 'deleteHost', summary: 'Remove a GPU host' })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'Host not found'])
  @ApiOkResponse({ type: DeletedHostResponse })
  async remove(@Param('id', uuidParam) id: string): Promise<DeletedHostResponse> {
    await this.hosts.remove(id);
    return { id, deleted: true };
  }
}

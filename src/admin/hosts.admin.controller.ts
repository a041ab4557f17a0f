import { Body, Delete, Get, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
} from '@nestjs/swagger';
import { AdminApiController, uuidParam } from './admin-api';

import { HostsService } from '../hosts/hosts.service';
import { CreateHostDto, DeletedHostResponse, HostResponse, UpdateHostDto } from './dto/hosts.dto';

/** Admin API for the GPU host registry (CONTRACT §4): register, list, change, drain, remove. */
@AdminApiController()
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
  get(@Param('id', uuidParam) id: string): HostResponse {
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
  update(@Param('id', uuidParam) id: string, @Body() body: UpdateHostDto): Promise<HostResponse> {
    return this.hosts.update(id, body);
  }

  @Delete('hosts/:id')
  @ApiOkResponse({ type: DeletedHostResponse })
  @ApiNotFoundResponse()
  async remove(@Param('id', uuidParam) id: string): Promise<DeletedHostResponse> {
    await this.hosts.remove(id);
    return { id, deleted: true };
  }
}

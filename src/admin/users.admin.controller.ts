import { Body, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApiController, uuidParam } from './admin-api';
import { AuthService } from '../auth/auth.service';
import type { ApiKeyRecord, KeySettings, UserRecord } from '../auth/auth.types';
import { LedgerService } from '../billing/ledger.service';

import {
  ApiKeyResponse,
  CreatedApiKeyResponse,
  CreateKeyDto,
  CreateUserDto,
  KeySettingsDto,
  UpdateKeyDto,
  UpdateUserDto,
  UserResponse,
} from './dto/users.dto';
import { ApiErrors } from '../docs/api-errors';

/** Admin API for users and their keys (CONTRACT §4). */
@AdminApiController('admin: users and keys')
export class UsersAdminController {
  constructor(
    private readonly auth: AuthService,
    private readonly ledger: LedgerService,
  ) {}

  @Post('users')
  @ApiOperation({ operationId: 'createUser', summary: 'Create a user (credits start at 0)' })
  @ApiErrors('admin', ['invalid_request', 'name: name must be a string'])
  @ApiCreatedResponse({ type: UserResponse })
  async createUser(@Body() body: CreateUserDto): Promise<UserResponse> {
    const user = await this.auth.createUser({ name: body.name, email: body.email, role: body.role });
    return (await this.withCredits([user]))[0] as UserResponse;
  }

  @Get('users')
  @ApiOperation({ operationId: 'listUsers', summary: 'List users with their balances' })
  @ApiOkResponse({ type: [UserResponse] })
  async listUsers(): Promise<UserResponse[]> {
    return this.withCredits(await this.auth.listUsers());
  }

  @Get('users/:id')
  @ApiOperation({ operationId: 'getUser', summary: 'Get a user with its balance' })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'User not found'])
  @ApiOkResponse({ type: UserResponse })
  async getUser(@Param('id', uuidParam) id: string): Promise<UserResponse> {
    return (await this.withCredits([await this.auth.getUser(id)]))[0] as UserResponse;
  }

  @Patch('users/:id')
  @ApiOperation({ operationId: 'updateUser', summary: 'Change a user (name, email, role, disabled)' })
  @ApiErrors(
    'admin',
    ['invalid_request', 'role: role must be one of the following values: user, admin'],
    ['not_found', 'User not found'],
  )
  @ApiOkResponse({ type: UserResponse })
  async updateUser(@Param('id', uuidParam) id: string, @Body() body: UpdateUserDto): Promise<UserResponse> {
    const user = await this.auth.updateUser(id, {
      name: body.name,
      email: body.email,
      role: body.role,
      disabled: body.disabled,
    });
    return (await this.withCredits([user]))[0] as UserResponse;
  }

  @Post('users/:id/keys')
  @ApiOperation({ operationId: 'createApiKey', summary: 'Issue an API key (the plaintext is returned once)' })
  @ApiErrors(
    'admin',
    ['invalid_request', 'ip_whitelist.0: must be an IP address or CIDR range'],
    ['not_found', 'User not found'],
  )
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  async createKey(
    @Param('id', uuidParam) id: string,
    @Body() body: CreateKeyDto,
  ): Promise<CreatedApiKeyResponse> {
    const issued = await this.auth.createKey(id, toSettings(body));
    return { ...toKeyResponse(issued.record), key: issued.key };
  }

  @Get('users/:id/keys')
  @ApiOperation({ operationId: 'listApiKeys', summary: 'List a user’s API keys (never plaintext or hash)' })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'User not found'])
  @ApiOkResponse({ type: [ApiKeyResponse] })
  async listKeys(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse[]> {
    return (await this.auth.listKeys(id)).map(toKeyResponse);
  }

  @Get('keys/:id')
  @ApiOperation({ operationId: 'getApiKey', summary: 'Get an API key' })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'API key not found'])
  @ApiOkResponse({ type: ApiKeyResponse })
  async getKey(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.getKey(id));
  }

  @Patch('keys/:id')
  @ApiOperation({
    operationId: 'updateApiKey',
    summary: 'Change an API key’s name, whitelist, models, limits or expiry',
  })
  @ApiErrors(
    'admin',
    ['invalid_request', 'rpm: rpm must not be less than 1'],
    ['not_found', 'API key not found'],
  )
  @ApiOkResponse({ type: ApiKeyResponse })
  async updateKey(@Param('id', uuidParam) id: string, @Body() body: UpdateKeyDto): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.updateKey(id, toSettings(body)));
  }

  @Delete('keys/:id')
  @ApiOperation({
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key (effective everywhere within AUTH_CACHE_TTL_MS)',
  })
  @ApiErrors('admin', ['invalid_request', 'id: must be a UUID'], ['not_found', 'API key not found'])
  @HttpCode(200)
  @ApiOkResponse({ type: ApiKeyResponse, description: 'The revoked key' })
  async revokeKey(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.revokeKey(id));
  }

  private async withCredits(users: UserRecord[]): Promise<UserResponse[]> {
    const balances = await this.ledger.balances(users.map((u) => u.id));
    return users.map((u) => ({
      id: u.id,
      name: u.name,
      email: u.email,
      role: u.role,
      disabled: u.disabled,
      credits: Number(balances.get(u.id) ?? 0n),
      created_at: u.createdAt.toISOString(),
      updated_at: u.updatedAt.toISOString(),
    }));
  }
}

/** Wire settings to the service's: absent stays absent, null clears (lists clear to empty). */
export function toSettings(body: KeySettingsDto): KeySettings {
  return {
    name: body.name,
    ipWhitelist: body.ip_whitelist === null ? [] : body.ip_whitelist,
    models: body.models === null ? [] : body.models,
    rpm: body.rpm,
    tpm: body.tpm,
    expiresAt: body.expires_at == null ? body.expires_at : new Date(body.expires_at),
  };
}

export function toKeyResponse(k: ApiKeyRecord): ApiKeyResponse {
  return {
    id: k.id,
    user_id: k.userId,
    prefix: k.prefix,
    name: k.name,
    ip_whitelist: k.ipWhitelist,
    models: k.models,
    rpm: k.rpm,
    tpm: k.tpm,
    expires_at: k.expiresAt?.toISOString() ?? null,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    created_at: k.createdAt.toISOString(),
  };
}

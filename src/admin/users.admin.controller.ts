import { Body, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
} from '@nestjs/swagger';
import { AdminApiController, uuidParam } from './admin-api';
import { AuthService } from '../auth/auth.service';
import type { ApiKeyRecord, KeySettings, UserRecord } from '../auth/auth.types';
import { BillingService } from '../billing/billing.service';

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

/** Admin API for users and their keys (CONTRACT §4). */
@AdminApiController()
export class UsersAdminController {
  constructor(
    private readonly auth: AuthService,
    private readonly billing: BillingService,
  ) {}

  @Post('users')
  @ApiCreatedResponse({ type: UserResponse })
  @ApiBadRequestResponse({ description: 'Invalid field (named in the message)' })
  async createUser(@Body() body: CreateUserDto): Promise<UserResponse> {
    const user = await this.auth.createUser({ name: body.name, email: body.email, role: body.role });
    return (await this.withCredits([user]))[0] as UserResponse;
  }

  @Get('users')
  @ApiOkResponse({ type: [UserResponse] })
  async listUsers(): Promise<UserResponse[]> {
    return this.withCredits(await this.auth.listUsers());
  }

  @Get('users/:id')
  @ApiOkResponse({ type: UserResponse })
  @ApiNotFoundResponse()
  async getUser(@Param('id', uuidParam) id: string): Promise<UserResponse> {
    return (await this.withCredits([await this.auth.getUser(id)]))[0] as UserResponse;
  }

  @Patch('users/:id')
  @ApiOkResponse({ type: UserResponse })
  @ApiNotFoundResponse()
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
  @ApiCreatedResponse({ type: CreatedApiKeyResponse })
  @ApiNotFoundResponse()
  async createKey(
    @Param('id', uuidParam) id: string,
    @Body() body: CreateKeyDto,
  ): Promise<CreatedApiKeyResponse> {
    const issued = await this.auth.createKey(id, toSettings(body));
    return { ...toKeyResponse(issued.record), key: issued.key };
  }

  @Get('users/:id/keys')
  @ApiOkResponse({ type: [ApiKeyResponse] })
  @ApiNotFoundResponse()
  async listKeys(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse[]> {
    return (await this.auth.listKeys(id)).map(toKeyResponse);
  }

  @Get('keys/:id')
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiNotFoundResponse()
  async getKey(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.getKey(id));
  }

  @Patch('keys/:id')
  @ApiOkResponse({ type: ApiKeyResponse })
  @ApiNotFoundResponse()
  async updateKey(@Param('id', uuidParam) id: string, @Body() body: UpdateKeyDto): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.updateKey(id, toSettings(body)));
  }

  @Delete('keys/:id')
  @HttpCode(200)
  @ApiOkResponse({ type: ApiKeyResponse, description: 'The revoked key' })
  @ApiNotFoundResponse()
  async revokeKey(@Param('id', uuidParam) id: string): Promise<ApiKeyResponse> {
    return toKeyResponse(await this.auth.revokeKey(id));
  }

  private async withCredits(users: UserRecord[]): Promise<UserResponse[]> {
    const balances = await this.billing.balances(users.map((u) => u.id));
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

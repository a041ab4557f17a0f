import { Controller } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators';

/** Admin API: filled in by the hosts module's work. */
@ApiTags('admin')
@ApiBearerAuth('bearer')
@AdminOnly()
@Controller('admin')
export class HostsAdminController {}

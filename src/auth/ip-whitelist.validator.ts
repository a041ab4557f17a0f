import { buildMessage, ValidateBy, ValidationOptions } from 'class-validator';
import { isValidRange } from './ip-address';

/** class-validator: an exact IPv4/IPv6 address or a CIDR range (the IP whitelist syntax). */
export function IsIpOrCidr(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIpOrCidr',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && isValidRange(value),
        defaultMessage: buildMessage(
          (each) => `${each}$property must hold IPv4/IPv6 addresses or CIDR ranges`,
          options,
        ),
      },
    },
    options,
  );
}

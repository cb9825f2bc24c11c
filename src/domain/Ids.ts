/** Branded identifiers. Decode at the edges; inside, pass these, never `string`. */
import { Schema } from "effect"

export const NotificationId = Schema.String.pipe(Schema.brand("NotificationId"))
export type NotificationId = typeof NotificationId.Type

export const DeliveryId = Schema.String.pipe(Schema.brand("DeliveryId"))
export type DeliveryId = typeof DeliveryId.Type

export const SinkName = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    message: () => "a sink name is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
  })
)

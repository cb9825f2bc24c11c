/** The DeliveryStore contract on SQLite: a fresh, migrated file per test, its writer and its reader. */
import { Effect, Layer } from "effect"
import { sqliteDeliveryStore } from "../../src/store/sqlite/DeliveryStore.js"
import { migrate } from "../../src/store/sqlite/Migrations.js"
import { readerLayer, writerLayer } from "../../src/store/sqlite/Sqlite.js"
import { sqliteWriter } from "../../src/store/sqlite/Writer.js"
import { tempDb } from "../support/herald.js"
import { deliveryStoreContract } from "./contract/DeliveryStore.js"

const storage = Layer.unwrapScoped(Effect.map(tempDb, (filename) =>
  readerLayer.pipe(Layer.provideMerge(Layer.effectDiscard(migrate()).pipe(Layer.provideMerge(writerLayer({ filename })))))))

deliveryStoreContract("SQLite", Layer.mergeAll(sqliteWriter, sqliteDeliveryStore).pipe(Layer.provideMerge(storage)))

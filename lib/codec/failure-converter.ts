/**
 * The failure converter used with the payload codec (`dataConverter.failureConverterPath`): failure
 * messages and stack traces move into the encoded attributes payload, which the codec encrypts, so a
 * failure in the server's database reads "Encoded failure". The workflow bundle must be built with
 * this path too (workers/worker.ts codecBundle); the client decodes such failures with any converter.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

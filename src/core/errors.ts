// Unexpected failures: thrown, logged once where they are caught, answered with a generic apology.
// Expected ones (no face, not an image, ...) are Result values instead (result.ts).

export class LookalikeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A model file is missing, corrupt, or does not match the models manifest. */
export class ModelLoadError extends LookalikeError {}

/** The inference runtime failed on input it should have accepted. */
export class InferenceError extends LookalikeError {}

/** An index on disk is unreadable or inconsistent with its metadata. */
export class IndexCorruptError extends LookalikeError {}

/** The environment or command line asks for something impossible (missing variable, no CUDA). */
export class ConfigError extends LookalikeError {}

package io.pipefill.controlplane.catalog;

import io.pipefill.model.ModelConfigException;
import io.pipefill.model.ModelConfigJson;
import io.pipefill.model.ModelDirectory;
import io.pipefill.model.ModelFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * The one directory tree model directories are read from ({@code pipefill.models-root}; by default the data
 * directory's {@code models}, where {@code pipefill up} generates its model). The REST caller names a location and
 * the control plane reads files there, so every path is resolved to its real path (symbolic links followed) and
 * must lie under the root's real path; the files read are regular files of bounded size. A location outside the
 * root gets the same answer whether or not it exists, and no error carries a file's contents.
 */
@Component
public class ModelsRoot {
    /** tokenizer.json files run to a few MB (Llama 3: 9 MB); this leaves room and still bounds what is read. */
    public static final long MAX_TOKENIZER_BYTES = 64L << 20;

    private final Path root;

    public ModelsRoot(@Value("${pipefill.models-root}") Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /**
     * The model directory a location names (absolute, or relative to the root), as the normalized absolute path to
     * record and hand to workers. Throws IllegalArgumentException naming the field when it is not a directory under
     * the root.
     */
    public Path directory(String location) {
        Path given;
        try {
            given = root.resolve(location).normalize();
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("location: not a valid path (" + e.getReason() + ")");
        }
        realUnderRoot(given).filter(Files::isDirectory).orElseThrow(() -> new IllegalArgumentException(
                "location: " + given + " is not a directory under the models root " + root
                        + " (pipefill.models-root); model directories are registered from there only"));
        return given;
    }

    /** Opens the model directory at a (registered) location: its config.json read under the root's rules. */
    public ModelDirectory open(String location) {
        Path dir = directory(location);
        Path config = file(dir, "config.json").orElseThrow(() -> new ModelConfigException(dir.resolve("config.json")
                + ": not found (a model directory needs a Hugging Face config.json)"));
        return new ModelDirectory(dir, ModelConfigJson.read(config));
    }

    /** The text of a registered model's config.json (for the planner's own reader), bounded like the engine's. */
    public String configText(String location) {
        Path dir = directory(location);
        Path config = file(dir, "config.json").orElseThrow(() -> new IllegalArgumentException(dir.resolve("config.json")
                + ": not found (a model directory needs a Hugging Face config.json)"));
        try {
            return ModelFiles.readUtf8(config, ModelConfigJson.MAX_BYTES);
        } catch (IOException e) {
            throw new IllegalArgumentException(config + ": " + e.getMessage());
        }
    }

    /** The model's tokenizer.json when it has one: under the root, a regular file of at most 64 MiB. */
    public Optional<Path> tokenizerJson(ModelDirectory model) {
        Optional<Path> f = file(model.path(), "tokenizer.json");
        f.ifPresent(p -> checkRegular(p, MAX_TOKENIZER_BYTES));
        return f;
    }

    /** The total size of the directory's *.safetensors files, each under the root and a regular file. */
    public long weightBytes(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".safetensors"))
                    .mapToLong(p -> checkRegular(file(dir, p.getFileName().toString()).orElseThrow(), Long.MAX_VALUE))
                    .sum();
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + dir, e);
        }
    }

    /**
     * A file of a model directory by name: empty when there is no entry of that name; its real path when it lies
     * under the root; otherwise (a link out of the root, or to nothing) an error that does not say which.
     */
    private Optional<Path> file(Path dir, String name) {
        Path entry = dir.resolve(name);
        if (!Files.exists(entry, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        return Optional.of(realUnderRoot(entry).orElseThrow(() -> new IllegalArgumentException("location: " + entry
                + " leads outside the models root " + root + " or to nothing")));
    }

    private static long checkRegular(Path file, long maxBytes) {
        try {
            return ModelFiles.checkRegular(file, maxBytes);
        } catch (IOException e) {
            throw new IllegalArgumentException("location: " + file + ": " + e.getMessage());
        }
    }

    /** The path's real path if it exists and lies under the root's real path; empty otherwise, whichever the reason. */
    private Optional<Path> realUnderRoot(Path p) {
        Path realRoot;
        try {
            realRoot = root.toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("location: the models root " + root + " (pipefill.models-root) does not exist;"
                    + " create it and put model directories there");
        }
        try {
            Path real = p.toRealPath();
            return real.startsWith(realRoot) ? Optional.of(real) : Optional.empty();
        } catch (IOException | SecurityException e) {
            return Optional.empty();
        }
    }
}

package io.pipefill.cli.images;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * A Containerfile read the way builders read it: comment lines dropped, backslash continuations joined, one
 * instruction per logical line, its arguments in exec (JSON array) or shell form.
 */
record Containerfile(Path path, List<Instruction> instructions) {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    record Instruction(String keyword, String arguments) {
        /** The exec form's words ({@code ["a", "b"]}); fails for the shell form. */
        List<String> execForm() {
            // HEALTHCHECK [options] CMD [...]: the words after CMD
            int cmd = arguments.indexOf("CMD [");
            String json = cmd >= 0 ? arguments.substring(cmd + 4) : arguments;
            if (!json.startsWith("[")) {
                throw new AssertionError(keyword + " " + arguments + " is not in exec (JSON array) form");
            }
            return JSON.readValue(json, new TypeReference<List<String>>() { });
        }
    }

    static Containerfile read(Path path) throws IOException {
        List<Instruction> instructions = new ArrayList<>();
        StringBuilder logical = new StringBuilder();
        for (String line : Files.readAllLines(path, UTF_8)) {
            String stripped = line.strip();
            if (stripped.startsWith("#") || (stripped.isEmpty() && logical.isEmpty())) {
                continue;
            }
            if (stripped.endsWith("\\")) {
                logical.append(stripped, 0, stripped.length() - 1).append(' ');
                continue;
            }
            logical.append(stripped);
            String text = logical.toString().strip();
            logical.setLength(0);
            if (text.isEmpty()) {
                continue;
            }
            int space = text.indexOf(' ');
            instructions.add(new Instruction(text.substring(0, space).toUpperCase(), text.substring(space + 1).strip()));
        }
        return new Containerfile(path, List.copyOf(instructions));
    }

    List<Instruction> all(String keyword) {
        return instructions.stream().filter(i -> i.keyword().equals(keyword)).toList();
    }

    /** The last one counts (ENTRYPOINT, CMD, USER, HEALTHCHECK). */
    Optional<Instruction> last(String keyword) {
        List<Instruction> all = all(keyword);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /** The image of the final stage's FROM. */
    String finalBase() {
        return all("FROM").get(all("FROM").size() - 1).arguments().split("\\s+")[0];
    }

    /** Instructions of the final stage only. */
    List<Instruction> finalStage() {
        int from = instructions.lastIndexOf(all("FROM").get(all("FROM").size() - 1));
        return instructions.subList(from, instructions.size());
    }
}

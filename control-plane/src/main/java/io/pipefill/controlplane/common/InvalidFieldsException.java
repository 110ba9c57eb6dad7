package io.pipefill.controlplane.common;

import java.util.List;

/**
 * A request body with fields that break rules bean validation cannot express on a record we do not own (the
 * agent protocol records); answered with 400 listing each field, like a bean-validation failure.
 */
public final class InvalidFieldsException extends RuntimeException {
    private final List<FieldProblem> problems;

    public InvalidFieldsException(List<FieldProblem> problems) {
        super(FieldProblem.describe(problems));
        this.problems = List.copyOf(problems);
    }

    public List<FieldProblem> problems() {
        return problems;
    }

    /** One field and what is wrong with it (and what is allowed). */
    public record FieldProblem(String field, String message) {
        public static String describe(List<FieldProblem> problems) {
            StringBuilder b = new StringBuilder("invalid request: ");
            for (int i = 0; i < problems.size(); i++) {
                b.append(i == 0 ? "" : "; ").append(problems.get(i).field()).append(": ").append(problems.get(i).message());
            }
            return b.toString();
        }
    }
}

package io.pipefill.cli;

import java.util.Locale;

/** Sizes such as {@code 512m}, {@code 8g} or plain bytes, for command-line options. */
final class ByteSize {
    private ByteSize() {
    }

    static long parse(String option, String text) {
        String s = text.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (s.endsWith("ib")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("b")) {
            s = s.substring(0, s.length() - 1);
        }
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                case 't' -> unit = 1L << 40;
                default -> unit = 1;
            }
            if (unit > 1) {
                s = s.substring(0, s.length() - 1);
            }
        }
        try {
            double v = Double.parseDouble(s);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return (long) (v * unit);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " " + text + ": expected a positive size such as 512m, 8g or 1073741824");
        }
    }
}

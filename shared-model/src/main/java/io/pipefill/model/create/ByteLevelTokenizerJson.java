package io.pipefill.model.create;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A byte-level BPE tokenizer.json in the Hugging Face format (GPT-2's byte-to-unicode alphabet, one token
 * per byte, no merges) plus begin/end-of-text specials: every string encodes losslessly, and the real
 * tokenizers library loads it like any model's tokenizer.
 */
public final class ByteLevelTokenizerJson {
    public static final int BYTE_TOKENS = 256;
    public static final int BOS_ID = 256;
    public static final int EOS_ID = 257;
    public static final String BOS = "<|begin_of_text|>";
    public static final String EOS = "<|end_of_text|>";

    private ByteLevelTokenizerJson() {
    }

    /** GPT-2's reversible map from bytes to printable code points. */
    static int[] byteToCodePoint() {
        int[] map = new int[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            printable[b] = true;
        }
        int next = 256;
        for (int b = 0; b < 256; b++) {
            map[b] = printable[b] ? b : next++;
        }
        return map;
    }

    public static String build() {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        addSpecial(added, BOS_ID, BOS);
        addSpecial(added, EOS_ID, EOS);
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "ByteLevel");
        pre.put("add_prefix_space", false);
        pre.put("trim_offsets", true);
        pre.put("use_regex", true);

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode specials = post.putObject("special_tokens");
        ObjectNode bos = specials.putObject(BOS);
        bos.put("id", BOS);
        bos.putArray("ids").add(BOS_ID);
        bos.putArray("tokens").add(BOS);

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        int[] map = byteToCodePoint();
        for (int b = 0; b < 256; b++) {
            vocab.put(new String(Character.toChars(map[b])), b);
        }
        model.putArray("merges");
        try {
            return mapper.writeValueAsString(root) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void addSpecial(ArrayNode added, int id, String content) {
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
    }
}

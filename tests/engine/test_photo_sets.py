"""A set of one person's photos: the photo of someone else in it, and the ones to train on."""

from avatars.engine.photo_sets import (
    TrainingCandidate,
    choose_training_photos,
    find_identity_outliers,
    identity_centroid,
)


def test_the_set_level_check_finds_the_photo_that_is_not_the_majoritys_person(faces_dir, verdicts):
    friend_first = ["biden/biden-1.jpg", "obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"]
    embeddings = [verdicts(faces_dir / name).embedding for name in friend_first]

    assert find_identity_outliers(embeddings) == [0]
    assert find_identity_outliers(embeddings[1:]) == []
    two_and_three = [verdicts(faces_dir / name).embedding for name in (
        "rose_leslie/rose_leslie-1.jpg", "obama/obama-1.jpg", "rose_leslie/rose_leslie-2.jpg",
        "obama/obama-2.jpg", "obama/obama-3.jpg",
    )]
    assert find_identity_outliers(two_and_three) == [0, 2]
    assert find_identity_outliers([]) == [] and find_identity_outliers(embeddings[:1]) == []


def test_training_photos_are_the_best_of_the_majoritys_person(faces_dir, verdicts):
    names = ["biden/biden-2.jpg", "obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"]
    candidates = [
        TrainingCandidate(key=name, quality_score=verdicts(faces_dir / name).quality_score,
                          embedding=verdicts(faces_dir / name).embedding)
        for name in names
    ] + [TrainingCandidate(key="no-face", quality_score=None, embedding=None)]
    # The friend's photo is the best one technically: it must still be left out.
    candidates[0] = TrainingCandidate(key=names[0], quality_score=1.0, embedding=candidates[0].embedding)

    chosen = choose_training_photos(candidates, limit=2)
    everything = choose_training_photos(candidates, limit=10)

    assert len(chosen) == 2
    assert set(everything) == {"obama/obama-1.jpg", "obama/obama-2.jpg", "obama/obama-3.jpg"}
    assert everything[:2] == chosen
    assert "obama/obama-3.jpg" not in chosen  # the softest of the three (sharpness ~70 against ~300)


def test_identity_centroid_is_the_mean_embedding():
    assert identity_centroid([[0.0, 2.0], [1.0, 0.0], None]) == [0.5, 1.0]
    assert identity_centroid([]) == []
